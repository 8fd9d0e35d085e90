"""How well sentence verification (qa.generation.verify) tells supported claims from unsupported ones.

No LLM is available offline, so claims are built from CMRC 2018, whose questions have gold answers:
- faithful, verbatim: the context sentence holding the gold answer, citing its passage;
- faithful, reworded: the question with its interrogative replaced by the gold answer
  ("X是由哪两个公司开发的" → "X是由光荣和ω-force开发的"), citing the passage;
- wrong passage: the reworded claim citing the best-ranked passage of another article;
- wrong fact: the reworded claim with the gold answer swapped for another question's answer of
  the same article (a fluent, on-topic, false sentence), citing the right passage.
Thresholds are chosen on the tuning half of the articles (best balanced accuracy: mean of the
faithful acceptance and the unfaithful rejection rates) and reported on the held-out half.

    python eval/bench_verification.py        # writes eval/reports/verification.{json,md}
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from qa.answering.question import analyse_question  # noqa: E402
from qa.chunking import sentence_spans  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.evaluation.report import md_table, write_report  # noqa: E402
from qa.evaluation.suite import resolve_dataset, start_service  # noqa: E402
from qa.generation.verify import Thresholds  # noqa: E402
from qa.schema import Hit  # noqa: E402
from qa.service import make_verifier  # noqa: E402

KINDS = ("faithful, verbatim", "faithful, reworded", "wrong passage", "wrong fact")
GRID = {
    "coverage": (0.5, 0.6, 0.7, 0.8),
    "coverage_with_similarity": (0.2, 0.3, 0.35, 0.4, 0.5),
    "similarity": (0.8, 0.83, 0.85, 0.87, 0.9),
}


def claims(cmrc, service) -> list[dict]:
    """One claim of each kind per answerable question (when it can be built)."""
    raw = json.loads(Settings().cmrc_path.read_text("utf-8"))
    split_of = {q.id: q.split for q in cmrc.queries}
    out = []
    passages = service.state.built.passages
    for article in raw["data"]:
        for para in article["paragraphs"]:
            doc_passages = [p for p in passages if p.doc_id == para["id"]]
            answers = [qa["answers"][0]["text"] for qa in para["qas"] if qa["answers"]]
            for qa in para["qas"]:
                if not qa["answers"]:
                    continue
                gold, at = qa["answers"][0]["text"], qa["answers"][0]["answer_start"]
                home = next((p for p in doc_passages if p.start <= at < p.end), None)
                if home is None:
                    continue
                split = split_of[qa["id"]]
                sentence = next((para["context"][s:e] for s, e in sentence_spans(para["context"]) if s <= at < e), "")
                info = analyse_question(qa["question"])
                reworded = f"{info.left}{gold}{info.right}" if info.right or info.left else ""
                other = next((h.passage for h in service.search(qa["question"], 10).hits
                              if h.passage.doc_id != para["id"]), None)
                swap = next((a for a in answers if a != gold and gold not in a and a not in gold), None)
                row = {"split": split, "question": qa["id"]}
                if sentence and home.start <= at and gold in home.text:
                    out.append({**row, "kind": KINDS[0], "claim": sentence, "passage": home, "faithful": True})
                if reworded:
                    out.append({**row, "kind": KINDS[1], "claim": reworded, "passage": home, "faithful": True})
                    if other is not None:
                        out.append({**row, "kind": KINDS[2], "claim": reworded, "passage": other, "faithful": False})
                    if swap:
                        out.append({**row, "kind": KINDS[3], "claim": f"{info.left}{swap}{info.right}",
                                    "passage": home, "faithful": False})
    return out


def accepted(c: dict, t: Thresholds) -> bool:
    return not c["missing"] and (c["coverage"] >= t.coverage or (
        c["coverage"] >= t.coverage_with_similarity and c["similarity"] >= t.similarity))


def rates(rows: list[dict], t: Thresholds) -> dict:
    out = {}
    for kind in KINDS:
        chosen = [c for c in rows if c["kind"] == kind]
        out[kind] = round(float(np.mean([accepted(c, t) for c in chosen])), 4) if chosen else None
    faithful = [accepted(c, t) for c in rows if c["faithful"]]
    unfaithful = [not accepted(c, t) for c in rows if not c["faithful"]]
    out["balanced accuracy"] = round((float(np.mean(faithful)) + float(np.mean(unfaithful))) / 2, 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--inference", default="onnx-int8")
    args = parser.parse_args()
    settings = Settings()
    cmrc = resolve_dataset("cmrc", settings)
    assert cmrc is not None, "CMRC 2018 is needed"
    service = start_service(cmrc, settings, args.inference)
    state = service.state
    verifier = make_verifier(service.settings, service.encoder, state.terms, state.built, state.retriever.position)
    rows = claims(cmrc, service)
    for c in rows:
        # Thresholds of zero: every verdict then comes down to the figures; the scores are kept for the sweep.
        verifier.thresholds = Thresholds(0.0, 0.0, 0.0)
        check = verifier.check(c["claim"] + "[1]", [Hit(passage=c["passage"], score=0.0, rank=1)])[0]
        c.update(coverage=check.coverage, similarity=check.similarity, missing=check.status != "supported")
    tune = [c for c in rows if c["split"] == "dev"]
    held = [c for c in rows if c["split"] == "test"]
    grid = [Thresholds(*values) for values in itertools.product(*GRID.values())]
    best = max(grid, key=lambda t: rates(tune, t)["balanced accuracy"])
    shipped = Thresholds(settings.verify_coverage, settings.verify_coverage_with_similarity, settings.verify_similarity)
    table = [{"thresholds": "chosen on the tuning half", **vars(best), "split": s, **rates(r, best)}
             for s, r in (("tuning", tune), ("held-out", held))]
    table += [{"thresholds": "shipped defaults", **vars(shipped), "split": "held-out", **rates(held, shipped)}]
    counts = [{"kind": k, "claims": sum(c["kind"] == k for c in rows)} for k in KINDS]
    md = "\n".join([
        "# Verification of generated sentences", "",
        "Regenerate: `python eval/bench_verification.py`. Claims built from CMRC 2018 (see the script's doc): the "
        "share of each kind that verification accepts. Faithful kinds should be accepted, the others rejected. "
        "Thresholds chosen on the tuning half of the articles, reported on the held-out half.", "",
        md_table(counts), md_table(table),
    ])
    write_report("verification", {"best": vars(best), "table": table, "counts": counts}, md)
    print(md)


if __name__ == "__main__":
    main()
