"""Shared fixtures.

Unit tests use a deterministic fake embedder (character-bigram hashing) and
temp directories. End-to-end tests use the real converted model on the real
letter; it is built once per machine by `make install` (`qa model build`) and
reused here, so a test session never downloads anything.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Hermetic: no QA_* setting and no .env of this machine reaches a test (or a CLI it starts as a subprocess).
for _name in [n for n in os.environ if n.startswith("QA_")]:
    del os.environ[_name]
os.environ["QA_ENV_FILE"] = os.devnull

from qa.config import Settings  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
# A frozen copy of the letter corpus: tests never read the user-editable corpus/ folder.
FIXTURE_CORPUS = FIXTURES / "corpus"
LETTER_ID = "sheitc-2019-15"


class FakeEncoder:
    """Hashes character bigrams into a fixed-size unit vector: similar strings, similar vectors."""

    backend = "fake"
    model_id = "fake-bigram-hash"

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.calls = 0

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        grams = [text[i : i + 2] for i in range(max(1, len(text) - 1))]
        for g in grams:
            h = int.from_bytes(hashlib.blake2b(g.encode(), digest_size=4).digest(), "little")
            v[h % self.dim] += 1.0
        norm = np.linalg.norm(v)
        return v / norm if norm else v

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_passages(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        return self.encode_queries(texts)


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """A private copy of the default corpus that a test may modify."""
    target = tmp_path / "corpus"
    shutil.copytree(FIXTURE_CORPUS, target)
    return target


@pytest.fixture
def settings(tmp_path: Path, corpus_dir: Path) -> Settings:
    """Settings with every path in a temp dir, except the shared model cache."""
    return Settings(corpus_dir=corpus_dir, index_dir=tmp_path / "index")


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(corpus_dir=FIXTURE_CORPUS, index_dir=tmp_path_factory.mktemp("real-index"))


@pytest.fixture(scope="session")
def real_service(real_settings: Settings):
    """The real converted model on the real letter (index built in a temp dir)."""
    from qa.model.build import build_model
    from qa.service import QAService

    build_model(real_settings.model_cache_dir)  # no-op when `make install` already built it
    return QAService.start(real_settings)


@pytest.fixture(scope="session")
def letter_text() -> str:
    return (FIXTURE_CORPUS / f"{LETTER_ID}.txt").read_text(encoding="utf-8")


@pytest.fixture
def fake_service(settings, fake_encoder):
    """The real pipeline over the real letter, with the fake embedder (fast, no model)."""
    from qa.service import QAService

    return QAService.start(settings, encoder=fake_encoder)


def make_client(service, **overrides):
    """A TestClient over an app whose settings differ from the service's by `overrides`."""
    from fastapi.testclient import TestClient

    from qa.api import create_app

    service.settings = service.settings.updated(**overrides)
    return TestClient(create_app(service=service), raise_server_exceptions=False)


@contextmanager
def serving(app) -> Iterator[str]:
    """Serve `app` with a real uvicorn (default options) in a thread on a free 127.0.0.1 port; yield its URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and thread.is_alive() and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
