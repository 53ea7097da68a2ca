"""Uploaded files: read the request body in memory within the size limit, split multipart forms.

Nothing of a request touches the disk here: the body is read chunk by chunk into memory and
refused (HTTP 413) as soon as it exceeds the limit; the client's file name is only kept, cleaned,
as a label and a format hint.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi import HTTPException, status
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

__all__ = ["Upload", "clean_filename", "read_body", "read_upload"]

#: Room for the multipart boundaries and part headers around the file itself.
_MULTIPART_OVERHEAD_BYTES = 64 * 1024
_MAX_FORM_FIELDS = 20
_MAX_FIELD_BYTES = 10_000
_UNSAFE = re.compile(r"[^\w .,()+-]+")


@dataclass
class Upload:
    """A file sent by a client, and the form fields sent with it."""

    data: bytes
    filename: str
    fields: dict[str, str] = field(default_factory=dict)


def too_large(limit: int) -> HTTPException:
    """Make the 413 error of an upload over ``limit`` bytes."""
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        detail=f"upload larger than the limit of {limit} bytes (setting max_upload_bytes)",
    )


def clean_filename(name: str | None, default: str = "fichier") -> str:
    """Make a display name of a client's file name: last path part, printable, ≤ 120 chars."""
    if not name:
        return default
    base = re.split(r"[\\/]", name)[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = _UNSAFE.sub("_", base).strip(" .")
    return base[:120] or default


async def read_body(content_length: str | None, stream: AsyncIterator[bytes], limit: int) -> bytes:
    """Read the request body, refused with 413 as soon as it passes ``limit`` bytes."""
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "invalid Content-Length") from None
        if declared > limit:
            raise too_large(limit)
    chunks: list[bytes] = []
    total = 0
    async for chunk in stream:
        total += len(chunk)
        if total > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def read_upload(body: bytes, content_type: str | None, filename: str | None, limit: int) -> Upload:
    """Extract the uploaded file of a multipart form (field ``file``) or of a raw body.

    Raises
    ------
    HTTPException
        422 for a malformed form or one without a file, 413 when the file passes ``limit``.
    """
    ctype, params = parse_options_header(content_type or "")
    if ctype != b"multipart/form-data":
        if len(body) > limit:
            raise too_large(limit)
        if not body:
            raise HTTPException(422, detail="the request body is empty: send the file")
        return Upload(body, clean_filename(filename))
    boundary = params.get(b"boundary")
    if not boundary:
        raise HTTPException(422, detail="multipart/form-data without a boundary")
    parts = _split_multipart(body, boundary)
    files = [p for p in parts if p.name == "file"]
    if len(files) != 1:
        raise HTTPException(
            422, detail="the form must carry exactly one file, in the field named 'file'"
        )
    upload = files[0]
    if len(upload.data) > limit:
        raise too_large(limit)
    if not upload.data:
        raise HTTPException(422, detail=f"the file {upload.filename!r} is empty")
    fields = {}
    for part in parts:
        if part.name != "file":
            if len(part.data) > _MAX_FIELD_BYTES:
                raise HTTPException(422, detail=f"form field {part.name!r} is too long")
            fields[part.name] = part.data.decode("utf-8", errors="replace")
    return Upload(upload.data, clean_filename(filename or upload.filename), fields)


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    data: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _split_multipart(body: bytes, boundary: bytes) -> list[_Part]:
    parts: list[_Part] = []
    chunks: list[bytes] = []
    header: list[bytes] = [b"", b""]

    def on_part_begin() -> None:
        if len(parts) >= _MAX_FORM_FIELDS:
            raise MultipartParseError("too many form fields")
        parts.append(_Part())
        chunks.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header[0] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header[1] += data[start:end]

    def on_header_end() -> None:
        # latin-1 keeps the bytes as they are; the file name is decoded as UTF-8 below
        parts[-1].headers[header[0].decode("latin-1").lower()] = header[1].decode("latin-1")
        header[0], header[1] = b"", b""

    def on_part_data(data: bytes, start: int, end: int) -> None:
        chunks.append(data[start:end])

    def on_part_end() -> None:
        part = parts[-1]
        part.data = b"".join(chunks)
        _, options = parse_options_header(part.headers.get("content-disposition", ""))
        part.name = options.get(b"name", b"").decode("utf-8", "replace")
        raw = options.get(b"filename")
        part.filename = None if raw is None else raw.decode("utf-8", "replace")

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as exc:
        raise HTTPException(422, detail=f"malformed multipart form: {exc}") from exc
    return parts
