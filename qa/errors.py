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


class ConfigError(QAError):
    """A setting asks for something this installation cannot do (e.g. a backend whose extra is missing)."""


class CorpusError(QAError):
    """A source document cannot be used. Always names the offending file.

    With `root` (the corpus folder) the message names the file relative to it,
    so no absolute path reaches an API client; `path` stays the full path.
    """

    def __init__(self, path: Path | str, reason: str, root: Path | str | None = None) -> None:
        self.path = Path(path)
        self.reason = reason
        self.root = None if root is None else Path(root)
        super().__init__(f"{self.where}: {reason}")

    @property
    def where(self) -> str:
        if self.root is None:
            return str(self.path)
        if self.path == self.root:
            return "corpus folder"
        if self.path.is_relative_to(self.root):
            return self.path.relative_to(self.root).as_posix()
        return self.path.name  # e.g. a configured dictionary elsewhere: its name, not where it lives

    def within(self, root: Path | str) -> CorpusError:
        """The same error, its file named relative to the corpus folder `root`."""
        return CorpusError(self.path, self.reason, root)


class IndexCorruptError(QAError):
    """Built index files are missing, truncated or disagree with each other."""


class IndexWriteError(QAError):
    """The index directory (or, for a document change, the corpus folder) cannot be written."""


class NotFoundError(QAError):
    """A passage or document id that does not exist."""


class DocumentRejectedError(QAError):
    """An uploaded or added document cannot be used (empty, unsupported, unreadable, bad metadata)."""


class DocumentConflictError(QAError):
    """An added document's id (or file name) is taken; replacing it is a different request."""
