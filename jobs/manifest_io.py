"""Reading and writing a job's bookkeeping objects (where they live: schemas/layout.py).

`{output}/{job_id}/_manifest.json` is written before any message is sent, so `status` always
knows the whole job; `{output}/{job_id}/_SUCCESS` is written by `status` once every batch has
its results, for downstream readers of the result files to wait on.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from schemas.layout import manifest_location, success_location
from schemas.manifest import JobManifest
from schemas.uris import S3Location


def write_manifest(s3: Any, output: S3Location, manifest: JobManifest) -> S3Location:
    """Publish the manifest and drop a `_SUCCESS` left by an earlier run of the same job id."""
    location = manifest_location(output, manifest.job_id)
    s3.put_object(
        Bucket=location.bucket,
        Key=location.key,
        Body=manifest.model_dump_json(indent=1).encode("utf-8"),
        ContentType="application/json",
    )
    marker = success_location(output, manifest.job_id)
    s3.delete_object(Bucket=marker.bucket, Key=marker.key)
    return location


def read_manifest(s3: Any, output: S3Location, job_id: str) -> JobManifest | None:
    location = manifest_location(output, job_id)
    try:
        body = s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    return JobManifest.model_validate_json(body)


def write_success(s3: Any, output: S3Location, job_id: str, summary: dict[str, Any]) -> None:
    marker = success_location(output, job_id)
    s3.put_object(
        Bucket=marker.bucket,
        Key=marker.key,
        Body=(json.dumps(summary, sort_keys=True) + "\n").encode("utf-8"),
        ContentType="application/json",
    )
