"""Where everything of a job lives under the output prefix (`SCORER_OUTPUT_URI`).

```
{output}/{job_id}/_manifest.json             what submit / backfill enqueued (JobManifest)
{output}/{job_id}/_SUCCESS                   written by `scorer status` once every batch is done
{output}/{job_id}/_staging/{batch_id}...     batches too large for a message, staged by submit
{output}/{job_id}/{batch_id}.jsonl.gz        results of one batch (the worker)
{output}/{job_id}/_errors/{batch_id}.jsonl.gz   its rejected records, when there are any
```
Errors objects have a folder of their own so that no batch id can name another batch's object
(with a suffix, batch `x.errors` would overwrite batch `x`'s errors).
The worker writes only results; the producer side writes the rest. The IAM policies in
infra/scorer.yaml grant exactly these keys.
"""

from __future__ import annotations

from schemas.uris import S3Location

MANIFEST_NAME = "_manifest.json"
SUCCESS_NAME = "_SUCCESS"
STAGING_FOLDER = "_staging"
ERRORS_FOLDER = "_errors"
RESULTS_SUFFIX = ".jsonl.gz"


def results_name(batch_id: str) -> str:
    """A batch's results (and errors) object name inside its folder."""
    return f"{batch_id}{RESULTS_SUFFIX}"


def result_locations(output: S3Location, job_id: str, batch_id: str) -> tuple[S3Location, ...]:
    """(results, errors) of one batch: `{job}/{batch}.jsonl.gz`, `{job}/_errors/{batch}...`."""
    return (
        output.child(job_id, results_name(batch_id)),
        output.child(job_id, ERRORS_FOLDER, results_name(batch_id)),
    )


def job_prefix(output: S3Location, job_id: str) -> S3Location:
    return output.child(job_id)


def manifest_location(output: S3Location, job_id: str) -> S3Location:
    return output.child(job_id, MANIFEST_NAME)


def success_location(output: S3Location, job_id: str) -> S3Location:
    return output.child(job_id, SUCCESS_NAME)


def staging_location(output: S3Location, job_id: str, name: str) -> S3Location:
    return output.child(job_id, STAGING_FOLDER, name)
