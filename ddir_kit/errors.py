"""The one exception type for expected failures (bad input, a board not found, a pair that
will not align). The CLI turns it into one line and a non-zero exit; anything else is a bug
and keeps its traceback."""

from __future__ import annotations

from pathlib import Path


class DdirKitError(Exception):
    """An expected failure, with a message a user can act on.

    When ``path`` is given, the message starts with it, so that a batch report names the
    file that caused the failure.
    """

    def __init__(self, reason: str, path: str | Path | None = None):
        self.reason = reason
        self.path = None if path is None else Path(path)
        super().__init__(reason if path is None else f"{path}: {reason}")
