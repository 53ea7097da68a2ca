"""Content-addressed files of the service: uploads, parsed tables, results and rendered maps.

A file is named by the SHA-256 of its bytes and written to a temporary file then renamed
(``os.replace``), so a reader never sees half a file; database rows refer to files by hash and
are committed after the file exists. Names never come from a request.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

__all__ = ["BlobStore"]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobStore:
    """Immutable files under ``root/<2 hex>/<64 hex>``.

    Parameters
    ----------
    root : Path
        Folder of the files (created).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._tmp = self.root / "tmp"
        self._tmp.mkdir(exist_ok=True)

    def path(self, sha256: str) -> Path:
        """Path of a stored file (the hash is checked: no path from outside gets through)."""
        if not _SHA256.match(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Store ``data`` (atomically, once) and return its SHA-256 hex digest."""
        sha = hashlib.sha256(data).hexdigest()
        final = self.path(sha)
        if final.is_file():
            return sha
        final.parent.mkdir(exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, final)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        _fsync_dir(final.parent)
        return sha

    @property
    def tmp_dir(self) -> Path:
        """Folder of temporary files (same file system: a finished file is renamed in place)."""
        return self._tmp

    def put_file(self, path: Path, sha256: str) -> str:
        """Move a finished file of :attr:`tmp_dir` whose hash is known into the store.

        The file is renamed (no copy: big uploads never pass through memory) or, when the same
        content is stored already, deleted. Returns ``sha256``.
        """
        final = self.path(sha256)
        if final.is_file():
            Path(path).unlink(missing_ok=True)
            return sha256
        final.parent.mkdir(exist_ok=True)
        os.replace(path, final)
        _fsync_dir(final.parent)
        return sha256

    def get(self, sha256: str) -> bytes:
        """Bytes of a stored file."""
        return self.path(sha256).read_bytes()

    def exists(self, sha256: str) -> bool:
        """Whether the file is stored."""
        return self.path(sha256).is_file()

    def delete(self, sha256: str) -> None:
        """Remove a stored file (no error when absent)."""
        self.path(sha256).unlink(missing_ok=True)

    def collect_garbage(self, referenced: Iterable[str], *, min_age_s: float = 0.0) -> int:
        """Delete temporary leftovers and files no row refers to; return how many went.

        Call it when no write is in flight (at startup): a file written by a request whose
        row is not committed yet would look unreferenced. When other processes share the
        folder (a PostgreSQL deployment), writes are always in flight somewhere: ``min_age_s``
        spares the files (temporary or not) modified less than that many seconds ago.
        """
        keep = set(referenced)
        limit = time.time() - min_age_s
        removed = 0

        def old(file: Path) -> bool:
            try:
                return min_age_s <= 0 or file.stat().st_mtime < limit
            except FileNotFoundError:  # another process removed it meanwhile
                return False

        for tmp in self._tmp.glob("*.tmp"):
            if old(tmp):
                tmp.unlink(missing_ok=True)
                removed += 1
        for sub in self.root.iterdir():
            if sub == self._tmp or not sub.is_dir() or len(sub.name) != 2:
                continue
            for file in sub.iterdir():
                if _SHA256.match(file.name) and file.name not in keep and old(file):
                    file.unlink(missing_ok=True)
                    removed += 1
        return removed


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
