"""The S3 side of the worker: stream bulk inputs in, write result objects out whole.

Inputs are read as a stream (never whole into memory), decompressed on the fly when they start
with gzip's magic bytes (whatever the key is called), and cut off past a byte limit (a gzip
bomb ends as a DLQ reason, not an OOM kill).
Outputs are spooled to a temporary file and uploaded at the end (multipart above the part
size), so a reader never sees half an object and memory stays bounded.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import logging
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import urllib3.exceptions
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import (
    ClientError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from isal import igzip, isal_zlib

from schemas.uris import S3Location
from worker.aws import s3_client
from worker.inputs import InputError

log = logging.getLogger(__name__)

#: Error codes that no retry will fix: the message goes to the DLQ with the reason.
PERMANENT_READ_ERRORS = {
    "NoSuchKey",
    "NoSuchBucket",
    "AccessDenied",
    "404",
    "403",
    "InvalidObjectState",
}
_SPOOL_IN_MEMORY = 16 * 1024 * 1024
_OUTPUT_LEVEL = 1
#: What a body read raises when the connection breaks mid-object.
_BROKEN_STREAM = (
    ResponseStreamingError,
    IncompleteReadError,
    ReadTimeoutError,
    urllib3.exceptions.HTTPError,
    ConnectionError,
)


class _ByteLimit(io.RawIOBase):
    """A read-only stream that raises InputError past `limit` bytes."""

    def __init__(self, source: Any, limit: int, uri: str) -> None:
        self._source = source
        self._limit = limit
        self._uri = uri
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = self._source.readinto(buffer)  # straight into the reader's buffer: no copy
        self.bytes_read += size
        if self.bytes_read > self._limit:
            raise InputError(
                f"{self._uri} holds more than {self._limit} bytes (decompressed): split it"
            )
        return size


class _ResumableBody(io.RawIOBase):
    """An object's body that resumes where it broke off (a Range GET pinned to the ETag).

    botocore retries requests, not a body read that fails halfway (a reset connection, a
    read timeout): without this, one dropped connection would fail a whole large input.
    """

    def __init__(self, location: S3Location, response: dict[str, Any], max_resumes: int) -> None:
        self._location = location
        self._body = response["Body"]
        self._etag = response.get("ETag", "")
        self._offset = 0
        self._resumes_left = max_resumes

    def read(self, size: int = -1) -> bytes:
        while True:
            try:
                data = self._body.read(size)
            except _BROKEN_STREAM as error:
                if self._resumes_left <= 0:
                    raise
                self._resumes_left -= 1
                log.warning(
                    "input stream broke, resuming",
                    extra={"uri": self._location.uri, "offset": self._offset, "error": str(error)},
                )
                self._reopen()
                continue
            self._offset += len(data)
            return data

    def readinto(self, buffer: Any) -> int:
        """For readers that fill buffers (ISA-L's gzip): the same resuming `read`."""
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def _reopen(self) -> None:
        self._close_body()  # not self.close(): the buffered reader on top must stay open
        extra = {"IfMatch": self._etag} if self._etag else {}
        response = s3_client().get_object(
            Bucket=self._location.bucket,
            Key=self._location.key,
            Range=f"bytes={self._offset}-",
            **extra,
        )
        self._body = response["Body"]

    def _close_body(self) -> None:
        with contextlib.suppress(Exception):
            self._body.close()

    def close(self) -> None:
        self._close_body()
        super().close()


#: The first two bytes of every gzip member (RFC 1952).
GZIP_MAGIC = b"\x1f\x8b"


@contextmanager
def decoded_input(raw: IO[bytes], max_bytes: int, uri: str) -> Iterator[IO[bytes]]:
    """The input's bytes as a buffered stream, gunzipped when they start with gzip's magic
    bytes (a `.GZ` key, or gzip data named `.jsonl`, is still gzip), cut off past `max_bytes`
    (decompressed) with an InputError."""
    peekable = io.BufferedReader(raw, buffer_size=64 * 1024)  # type: ignore[arg-type]
    compressed = peekable.peek(2)[:2] == GZIP_MAGIC
    source: Any = igzip.IGzipFile(fileobj=peekable, mode="rb") if compressed else peekable
    limited = _ByteLimit(source, max_bytes, uri)
    try:
        yield io.BufferedReader(limited, buffer_size=1024 * 1024)
    except (gzip.BadGzipFile, EOFError, zlib.error, isal_zlib.error) as error:
        if not compressed:
            raise
        raise InputError(f"{uri} is not a valid gzip stream: {error}") from None


@contextmanager
def open_input(
    location: S3Location, max_bytes: int, max_resumes: int = 5
) -> Iterator[tuple[IO[bytes], str]]:
    """Yield (a buffered, decoded byte stream of the object, its ETag)."""
    client = s3_client()
    try:
        response = client.get_object(Bucket=location.bucket, Key=location.key)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in PERMANENT_READ_ERRORS:
            raise InputError(f"cannot read {location.uri}: {code}") from None
        raise
    body = _ResumableBody(location, response, max_resumes)
    try:
        with decoded_input(body, max_bytes, location.uri) as stream:  # type: ignore[arg-type]
            yield stream, response.get("ETag", "")
    finally:
        body.close()


class GzipJsonlObject:
    """A gzip JSON Lines object being written; `upload` publishes it whole, `discard` drops it."""

    def __init__(self, location: S3Location, part_size: int) -> None:
        self.location = location
        self.lines = 0
        self._part_size = part_size
        # Opened at the first write (or the upload): setting up a compressor costs ~40 us, and
        # most messages never write their errors object.
        self._spool: IO[bytes] | None = None
        self._gzip: igzip.IGzipFile | None = None

    def _open(self) -> igzip.IGzipFile:
        self._spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
        # mtime=0 and a fixed filename: the same records always give the same bytes. ISA-L,
        # as for inputs: ~10x less CPU per line than zlib's level 6 (0.06 vs 0.56 us per
        # result line) for ~10% larger files (measured; docs/performance.md).
        self._gzip = igzip.IGzipFile(
            filename="", fileobj=self._spool, mode="wb", mtime=0, compresslevel=_OUTPUT_LEVEL
        )
        return self._gzip

    def write_line(self, line: str) -> None:
        """One already-serialised JSON object (an error line)."""
        self.write_lines([line])

    def write_lines(self, lines: list[str]) -> None:
        """Already-serialised JSON objects, one per line: one encode and write per batch."""
        if lines:
            text = "\n".join(lines) + "\n"
            (self._gzip or self._open()).write(text.encode("utf-8", errors="surrogatepass"))
            self.lines += len(lines)

    def upload(self, metadata: dict[str, str]) -> None:
        """Publish the object (an empty gzip member when no line was written)."""
        (self._gzip or self._open()).close()
        assert self._spool is not None
        size = self._spool.tell()
        self._spool.seek(0)
        extra = {"ContentType": "application/gzip", "Metadata": metadata}
        if size < self._part_size:  # one PUT: no transfer manager for the common small object
            s3_client().put_object(
                Bucket=self.location.bucket, Key=self.location.key, Body=self._spool.read(), **extra
            )
        else:
            s3_client().upload_fileobj(
                self._spool,
                self.location.bucket,
                self.location.key,
                ExtraArgs=extra,
                Config=TransferConfig(
                    multipart_threshold=self._part_size,
                    multipart_chunksize=self._part_size,
                    use_threads=False,
                ),
            )
        self._spool.close()

    def discard(self) -> None:
        if self._gzip is not None:
            self._gzip.close()
        if self._spool is not None:
            self._spool.close()
