"""Uploaded files: stream the request body to disk within the size limit, split multipart forms.

The body is never held whole in memory: it is hashed (SHA-256) while it is received, kept in
memory up to a small threshold, then written to a temporary file of the data folder (the
:class:`~api.store.BlobStore`'s ``tmp`` folder, so that storing it is a rename). It is refused
(HTTP 413) as soon as it exceeds the limit, whatever ``Content-Length`` says. A multipart form
is parsed as it arrives; the client's file name is only kept, cleaned, as a label and a format
hint, never as a path.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

__all__ = [
    "MEMORY_THRESHOLD_BYTES",
    "Upload",
    "UploadRejected",
    "clean_filename",
    "receive_upload",
    "too_large",
]

#: Uploads up to this size stay in memory; bigger ones go to a temporary file.
MEMORY_THRESHOLD_BYTES = 1024 * 1024
#: Room for the multipart boundaries and part headers around the file itself.
_MULTIPART_OVERHEAD_BYTES = 64 * 1024
_MAX_FORM_FIELDS = 20
_MAX_FIELD_BYTES = 10_000
_UNSAFE = re.compile(r"[^\w .,()+-]+")


class UploadRejected(Exception):
    """An upload refused before parsing: HTTP status, error kind and message.

    Parameters
    ----------
    status_code : int
        400 (bad ``Content-Length``), 413 (too large) or 422 (malformed form, no file).
    error : str
        Machine-readable kind (``too_large``, ``bad_request``, ``invalid_upload``).
    detail : str
        What went wrong.
    """

    def __init__(self, status_code: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.error = error
        self.detail = detail


def too_large(limit: int) -> UploadRejected:
    """Make the 413 error of an upload over ``limit`` bytes."""
    return UploadRejected(
        413,
        "too_large",
        f"fichier plus gros que la limite de {limit:,} octets (réglage max_upload_bytes)".replace(
            ",", "\u202f"
        ),
    )


@dataclass
class Upload:
    """A received file: in memory (small) or in a temporary file, with its hash and size.

    Attributes
    ----------
    filename : str
        The cleaned client file name (a label, never a path).
    sha256 : str
        SHA-256 hex digest of the file's bytes.
    size : int
        Its size in bytes.
    data : bytes or None
        The content, when it stayed in memory.
    path : Path or None
        The temporary file holding it otherwise (the caller moves or deletes it).
    fields : dict
        The other fields of a multipart form.
    """

    filename: str
    sha256: str
    size: int
    data: bytes | None = None
    path: Path | None = None
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def in_memory(self) -> bool:
        """Whether the content is in memory (no temporary file)."""
        return self.path is None

    def read_bytes(self) -> bytes:
        """Return the whole content (reads the temporary file: for small uploads only)."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()

    def discard(self) -> None:
        """Delete the temporary file, if any (idempotent)."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)


class _Sink:
    """Hash, count and keep bytes: in memory up to ``memory_bytes``, then in a temporary file."""

    def __init__(self, limit: int, tmp_dir: Path, memory_bytes: int) -> None:
        self.limit = limit
        self.tmp_dir = tmp_dir
        self.memory_bytes = memory_bytes
        self.size = 0
        self.hasher = hashlib.sha256()
        self.buffer: io.BytesIO | None = io.BytesIO()
        self.handle: BinaryIO | None = None
        self.path: Path | None = None

    def write(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.size += len(chunk)
        if self.size > self.limit:
            raise too_large(self.limit)
        self.hasher.update(chunk)
        if self.handle is None and self.size > self.memory_bytes:
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=self.tmp_dir, prefix="upload-", suffix=".tmp")
            self.path = Path(name)
            self.handle = os.fdopen(fd, "wb")
            assert self.buffer is not None
            self.handle.write(self.buffer.getvalue())
            self.buffer = None
        if self.handle is not None:
            self.handle.write(chunk)
        else:
            assert self.buffer is not None
            self.buffer.write(chunk)

    def finish(self, filename: str, fields: dict[str, str]) -> Upload:
        data = None
        if self.handle is not None:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            self.handle = None
        else:
            assert self.buffer is not None
            data = self.buffer.getvalue()
        return Upload(filename, self.hasher.hexdigest(), self.size, data, self.path, fields)

    def abort(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def clean_filename(name: str | None, default: str = "fichier") -> str:
    """Make a display name of a client's file name: last path part, printable, ≤ 120 chars."""
    if not name:
        return default
    base = re.split(r"[\\/]", name)[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = _UNSAFE.sub("_", base).strip(" .")
    return base[:120] or default


async def receive_upload(
    *,
    content_type: str | None,
    content_length: str | None,
    stream: AsyncIterator[bytes],
    filename: str | None,
    limit: int,
    tmp_dir: Path,
    memory_bytes: int = MEMORY_THRESHOLD_BYTES,
) -> Upload:
    """Receive the uploaded file of a multipart form (field ``file``) or of a raw body.

    Parameters
    ----------
    content_type, content_length : str or None
        The request's headers.
    stream : async iterator of bytes
        The request body.
    filename : str or None
        The file name given in the query (wins over the form's).
    limit : int
        Largest file accepted, in bytes.
    tmp_dir : Path
        Folder of the temporary file (on the same file system as the store).
    memory_bytes : int
        Files up to this size stay in memory.

    Raises
    ------
    UploadRejected
        400 for a bad ``Content-Length``, 413 as soon as the file passes ``limit``, 422 for a
        malformed form, a form without exactly one ``file`` field or an empty file.
    """
    ctype, params = parse_options_header(content_type or "")
    multipart = ctype == b"multipart/form-data"
    body_limit = limit + _MULTIPART_OVERHEAD_BYTES if multipart else limit
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise UploadRejected(400, "bad_request", "invalid Content-Length") from None
        if declared > body_limit:
            raise too_large(limit)
    sink = _Sink(limit, tmp_dir, memory_bytes)
    try:
        if not multipart:
            async for chunk in stream:
                sink.write(chunk)
            if sink.size == 0:
                raise UploadRejected(
                    422, "invalid_upload", "the request body is empty: send the file"
                )
            return sink.finish(clean_filename(filename), {})
        boundary = params.get(b"boundary")
        if not boundary:
            raise UploadRejected(422, "invalid_upload", "multipart/form-data without a boundary")
        form = _Form(sink)
        parser = form.parser(boundary)
        total = 0
        try:
            async for chunk in stream:
                total += len(chunk)
                if total > body_limit:
                    raise too_large(limit)
                parser.write(chunk)
            parser.finalize()
        except MultipartParseError as exc:
            raise UploadRejected(422, "invalid_upload", f"malformed multipart form: {exc}") from exc
        if form.files != 1:
            raise UploadRejected(
                422,
                "invalid_upload",
                "the form must carry exactly one file, in the field named 'file'",
            )
        name = clean_filename(filename or form.filename)
        if sink.size == 0:
            raise UploadRejected(422, "invalid_upload", f"the file {name!r} is empty")
        return sink.finish(name, form.fields)
    except BaseException:
        sink.abort()
        raise


class _Form:
    """Callbacks of a streaming multipart parse: the ``file`` part goes to the sink."""

    def __init__(self, sink: _Sink) -> None:
        self.sink = sink
        self.parts = 0
        self.files = 0
        self.filename: str | None = None
        self.fields: dict[str, str] = {}
        self._headers: dict[str, str] = {}
        self._header = [b"", b""]
        self._name = ""
        self._is_file = False
        self._value = bytearray()

    def parser(self, boundary: bytes) -> MultipartParser:
        return MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
            },
        )

    def _part_begin(self) -> None:
        self.parts += 1
        if self.parts > _MAX_FORM_FIELDS:
            raise MultipartParseError("too many form fields")
        self._headers = {}
        self._value = bytearray()
        self._is_file = False

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header[0] += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._header[1] += data[start:end]

    def _header_end(self) -> None:
        # latin-1 keeps the bytes as they are; names are decoded as UTF-8 below
        key = self._header[0].decode("latin-1").lower()
        self._headers[key] = self._header[1].decode("latin-1")
        self._header = [b"", b""]

    def _headers_finished(self) -> None:
        raw = self._headers.get("content-disposition", "").encode("latin-1")
        _, options = parse_options_header(raw)
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        if self._name == "file":
            self.files += 1
            self._is_file = self.files == 1  # a second file part is refused at the end
            given = options.get(b"filename")
            if self._is_file and given is not None:
                self.filename = given.decode("utf-8", "replace")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self.sink.write(data[start:end])
            return
        if self._name == "file":
            return  # an extra file: refused once the form is read
        self._value += data[start:end]
        if len(self._value) > _MAX_FIELD_BYTES:
            raise UploadRejected(422, "invalid_upload", f"form field {self._name!r} is too long")

    def _part_end(self) -> None:
        if self._name != "file":
            self.fields[self._name] = bytes(self._value).decode("utf-8", errors="replace")
