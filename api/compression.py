"""Compressed responses: Starlette's GZip, with the stored renderings compressed only once.

HTML and JSON go through :class:`starlette.middleware.gzip.GZipMiddleware`. A stored map or
export is served with a strong ``ETag`` (its content hash): its gzip bytes are computed the
first time and kept in a bounded in-memory cache keyed by that ETag, so 20 clients reloading a
département map (752 kB → ~195 kB) cost one compression, not one each.
"""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict

import anyio.to_thread
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CompressionMiddleware"]

#: Media types never compressed (already compressed formats).
_INCOMPRESSIBLE = ("image/png", "image/jpeg", "image/webp", "application/gzip", "application/zip")


class _GzipCache:
    """Bytes of compressed stored renderings by ETag, at most ``max_bytes`` in all (LRU)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._data: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, etag: str) -> bytes | None:
        with self._lock:
            found = self._data.get(etag)
            if found is not None:
                self._data.move_to_end(etag)
            return found

    def put(self, etag: str, data: bytes) -> None:
        if len(data) > self.max_bytes:
            return
        with self._lock:
            if etag in self._data:
                return
            self._data[etag] = data
            self._size += len(data)
            while self._size > self.max_bytes:
                _, dropped = self._data.popitem(last=False)
                self._size -= len(dropped)


class _StoredRenderings:
    """Serve the gzip bytes of a strongly-ETagged 200 GET response from the cache."""

    def __init__(self, app: ASGIApp, cache: _GzipCache, minimum_size: int, level: int) -> None:
        self.app = app
        self.cache = cache
        self.minimum_size = minimum_size
        self.level = level

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or "gzip" not in Headers(scope=scope).get("accept-encoding", "")
            or "http.response.pathsend" in scope.get("extensions", {})  # no body to compress
        ):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        etag: str | None = None
        chunks: list[bytes] = []
        mode = "undecided"  # then "pass", "cached" (swallow the body) or "buffer"

        async def send_compressed(message: Message, body: bytes) -> None:
            headers = MutableHeaders(raw=message["headers"])
            headers["Content-Encoding"] = "gzip"
            headers["Content-Length"] = str(len(body))
            headers.add_vary_header("Accept-Encoding")
            await send(message)
            await send({"type": "http.response.body", "body": body, "more_body": False})

        async def intercept(message: Message) -> None:
            nonlocal start, etag, mode
            if mode == "undecided" and message["type"] == "http.response.start":
                headers = Headers(raw=message.get("headers", []))
                tag = headers.get("etag", "")
                media = headers.get("content-type", "").partition(";")[0].strip().lower()
                size = int(headers.get("content-length", "0") or 0)
                if (
                    message["status"] != 200
                    or not tag.startswith('"')  # strong ETags only: a stored file's hash
                    or "content-encoding" in headers
                    or media in _INCOMPRESSIBLE
                    or size < self.minimum_size
                ):
                    mode = "pass"
                    await send(message)
                    return
                start, etag = message, tag
                cached = self.cache.get(tag)
                if cached is not None:
                    mode = "cached"
                    await send_compressed(message, cached)
                else:
                    mode = "buffer"
                return
            if mode == "pass":
                await send(message)
            elif mode == "buffer" and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    assert start is not None and etag is not None
                    raw = b"".join(chunks)
                    body = await anyio.to_thread.run_sync(_compress, raw, self.level)
                    self.cache.put(etag, body)
                    await send_compressed(start, body)
            # mode "cached": the file's own body is dropped, its gzip bytes already went out

        await self.app(scope, receive, intercept)


def _compress(data: bytes, level: int) -> bytes:
    return gzip.compress(data, compresslevel=level, mtime=0)


class CompressionMiddleware:
    """GZip for every compressible response; stored renderings compressed once and cached.

    Parameters
    ----------
    app : ASGI app
        The application.
    minimum_size : int
        Smaller responses are sent as they are.
    compresslevel : int
        zlib level of the responses compressed on every request (HTML pages, JSON).
    cache_bytes : int
        Memory for the compressed stored renderings (compressed at level 9, once).
    """

    def __init__(
        self,
        app: ASGIApp,
        minimum_size: int = 1024,
        compresslevel: int = 6,
        cache_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        stored = _StoredRenderings(app, _GzipCache(cache_bytes), minimum_size, level=9)
        self.app = GZipMiddleware(stored, minimum_size=minimum_size, compresslevel=compresslevel)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a request through the GZip middleware and the renderings' cache."""
        await self.app(scope, receive, send)
