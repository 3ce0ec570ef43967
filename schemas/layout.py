"""Where everything of a job lives under the output prefix (`SCORER_OUTPUT_URI`).

```
{output}/{job_id}/_manifest.json             what submit / backfill enqueued (JobManifest)
{output}/{job_id}/_SUCCESS                   written by `scorer status` once every batch is done
{output}/{job_id}/_staging/{batch_id}...     batches too large for a message, staged by submit
{output}/{job_id}/{batch_id}.jsonl.gz        results (the worker); see `result_locations`
```
The worker writes only results; the producer side writes the rest. The IAM policies in
infra/scorer.yaml grant exactly these keys.
"""

from __future__ import annotations

from schemas.uris import S3Location

MANIFEST_NAME = "_manifest.json"
SUCCESS_NAME = "_SUCCESS"
STAGING_FOLDER = "_staging"


def job_prefix(output: S3Location, job_id: str) -> S3Location:
    return output.child(job_id)


def manifest_location(output: S3Location, job_id: str) -> S3Location:
    return output.child(job_id, MANIFEST_NAME)


def success_location(output: S3Location, job_id: str) -> S3Location:
    return output.child(job_id, SUCCESS_NAME)


def staging_location(output: S3Location, job_id: str, name: str) -> S3Location:
    return output.child(job_id, STAGING_FOLDER, name)
