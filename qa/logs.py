"""Logging set-up shared by the CLI and the server."""

from __future__ import annotations

import logging


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s", force=True)
    for noisy in ("faiss.loader", "httpx", "sentence_transformers", "transformers", "jieba", "numba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
