"""Which S3 objects a message may name as its input: the allowlist, plus submit's staging area.

`scorer submit` stages batches too large for a message under `{output}/{job_id}/_staging/`, so
the worker allows that area on its own, derived from `SCORER_OUTPUT_URI`: a stack needs no
allowlist entry for staged submits. Everything else under the output prefix (other jobs'
results, manifests, `_SUCCESS` markers) is never an input, even when an allowlist entry covers
it: a message naming another job's results could otherwise read them into its own job.

The staging rule matches the task role's grant `{output}/*/_staging/*` (infra/scorer.yaml), so
what the code allows and what IAM allows are the same keys.
"""

from __future__ import annotations

from collections.abc import Iterable

from schemas.layout import STAGING_FOLDER
from schemas.uris import S3Location


def is_staged_input(output: S3Location, location: S3Location) -> bool:
    """True for `{output}/{job_id}/_staging/{name}` (a job id, then the staging folder)."""
    if location.bucket != output.bucket or not output.contains(location):
        return False
    base = output.key.rstrip("/")
    relative = location.key[len(base) + 1 :] if base else location.key
    parts = relative.split("/")
    return len(parts) >= 3 and parts[0] != "" and parts[1] == STAGING_FOLDER and parts[-1] != ""


class InputPolicy:
    """The allowlist (`SCORER_ALLOWED_INPUT_URIS`) plus the staging area under the output."""

    def __init__(self, output: S3Location, allowed: Iterable[S3Location]) -> None:
        self.output = output
        self.allowed = list(allowed)

    def refusal(self, location: S3Location) -> str | None:
        """None when the worker may read `location`, else the reason it may not (for the DLQ)."""
        if is_staged_input(self.output, location):
            return None
        if self.output.contains(location):
            return (
                f"input {location.uri} is under the output prefix {self.output.uri} and not in "
                f"a job's {STAGING_FOLDER}/ folder: results are never read as input"
            )
        if any(prefix.contains(location) for prefix in self.allowed):
            return None
        return f"input {location.uri} is outside SCORER_ALLOWED_INPUT_URIS"
