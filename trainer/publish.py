"""Upload a model folder to S3 so workers elsewhere can fetch that exact version."""

from __future__ import annotations

import logging
from pathlib import Path

from schemas.model_info import MODEL_INFO_FILE
from schemas.uris import parse_s3_uri

log = logging.getLogger(__name__)


def publish_model(folder: Path, uri: str, version: str) -> str:
    """Copy `folder` to `<uri>/<version>/`; returns that prefix as an s3:// URI.

    The endpoint comes from boto3's standard configuration (`AWS_ENDPOINT_URL` and friends).
    model.json goes last, so a reader that finds it finds a complete folder.
    """
    import boto3

    target = parse_s3_uri(uri).child(version)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    files.sort(key=lambda p: p.name == MODEL_INFO_FILE)
    s3 = boto3.client("s3")
    for path in files:
        key = target.child(path.relative_to(folder).as_posix()).key
        s3.upload_file(
            str(path), target.bucket, key, ExtraArgs={"Metadata": {"model-version": version}}
        )
    log.info("published %d files to %s", len(files), target.uri)
    return target.uri
