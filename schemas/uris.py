"""S3 URIs as they appear in settings and messages: validated once, split without surprises."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, WithJsonSchema

# Bucket naming rules (lowercase, digits, dots, hyphens; 3-63 characters).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class S3Location:
    """A bucket and a key (or key prefix) inside it."""

    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.key else f"s3://{self.bucket}"

    def child(self, *parts: str) -> S3Location:
        """The location of `parts` below this prefix, joined with single slashes."""
        key = "/".join(p.strip("/") for p in (self.key, *parts) if p.strip("/"))
        return S3Location(self.bucket, key)

    def contains(self, other: S3Location) -> bool:
        """True when `other` lies under this prefix (folder semantics: `a/b` holds `a/b/c`)."""
        if other.bucket != self.bucket:
            return False
        if not self.key:
            return True
        prefix = self.key.rstrip("/") + "/"
        return other.key == self.key.rstrip("/") or other.key.startswith(prefix)


def parse_s3_uri(uri: str) -> S3Location:
    """Split `s3://bucket/key`, rejecting anything that could escape the prefix it names."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise ValueError(f"invalid S3 bucket name in {uri!r}")
    segments = [s for s in key.split("/") if s]
    if any(s in (".", "..") for s in segments):
        raise ValueError(f"'.' and '..' segments are not allowed in {uri!r}")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in key):
        raise ValueError(f"control characters are not allowed in {uri!r}")
    return S3Location(bucket, key.lstrip("/"))


def _normalise(uri: str) -> str:
    location = parse_s3_uri(uri)
    return S3Location(location.bucket, location.key.rstrip("/")).uri


#: `parse_s3_uri`'s rules in JSON Schema, each a search (no lookahead, no reliance on `$`
#: alone: control characters, the line breaks included, are refused by their own rule).
S3_URI_JSON_SCHEMA: dict[str, Any] = {
    "type": "string",
    "allOf": [
        {"pattern": "^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/|$)"},
        {"not": {"pattern": "^s3://[^/]*\\.\\."}},
        {"not": {"pattern": "/\\.{1,2}(/|$)"}},
        {"not": {"pattern": "[\\u0000-\\u001f\\u007f]"}},
    ],
    "description": "s3://bucket[/key]: a valid bucket name; no '.' or '..' segment, no control "
    "characters.",
}

#: An `s3://bucket[/key]` string, checked and normalised.
S3Uri = Annotated[str, AfterValidator(_normalise), WithJsonSchema(S3_URI_JSON_SCHEMA)]
