"""Logging set-up shared by the CLI and the server, and one-line JSON records."""

from __future__ import annotations

import json
import logging

# json.dumps escapes control characters but leaves these, which some log viewers
# (and str.splitlines) treat as line breaks.
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s", force=True)
    for noisy in ("faiss.loader", "httpx", "sentence_transformers", "transformers", "jieba", "numba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def json_line(record: dict) -> str:
    """`record` as JSON on exactly one line, whatever client text it holds (no forged log lines)."""
    return json.dumps(record, ensure_ascii=False).translate(_LINE_BREAKS)
