"""Content-addressed file storage on disk: a file is kept once under its SHA-256.

Files are written to a temporary name in the same directory and renamed, so a reader never sees a
partial file and a crash leaves no half-written blob under a real name.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

#: Accepted evidence types by their leading bytes; a declared type or file name is not trusted.
MAGIC_TYPES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
)


def sniff_type(head: bytes) -> str | None:
    for magic, content_type, _ext in MAGIC_TYPES:
        if head.startswith(magic):
            return content_type
    return None


class FileStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_for(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def open(self, sha256: str):
        return self.path_for(sha256).open("rb")

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()
