"""One exception per failure kind, each with a message a user can act on.

The CLI prints `str(exc)` and exits non-zero; the API maps each class to one
HTTP status (see `qa.api.errors`).
"""

from __future__ import annotations

from pathlib import Path


class QAError(Exception):
    """Base class for every error this package raises on purpose."""


class ModelError(QAError):
    """The embedding model is missing, cannot be built, or fails verification."""


class CorpusError(QAError):
    """A source document cannot be used. Always names the offending file."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class IndexCorruptError(QAError):
    """Built index files are missing, truncated or disagree with each other."""


class IndexWriteError(QAError):
    """The index directory cannot be written (read-only disk, permissions, space)."""


class NotFoundError(QAError):
    """A passage or document id that does not exist."""
