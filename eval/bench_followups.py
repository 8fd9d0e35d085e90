"""Follow-up questions: hit@1 of the follow-up with the conversation against without it, and no drop
for questions that stand on their own.

Pairs: eval/datasets/followups/pairs.jsonl (written blind from the texts). For each pair the first
question is asked, its answer's cited passages become the history, and the follow-up is retrieved
with and without that history; a hit is a top passage overlapping the follow-up's evidence. The
human rewrite of the follow-up, retrieved alone, is the ceiling. `history_boost` is chosen on the
dev pairs and reported on the test pairs.

Control: every answerable question of the letter's test split and 300 of CMRC's held-out half,
each asked after an unrelated previous turn: its top passage and answer must not change.

    python eval/bench_followups.py         # writes eval/reports/followups.{json,md}
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.config import Settings  # noqa: E402
from qa.conversation import Turn  # noqa: E402
from qa.evaluation.datasets import Dataset, Query  # noqa: E402
from qa.evaluation.report import md_table, write_report  # noqa: E402
from qa.evaluation.runner import passage_grade  # noqa: E402
from qa.evaluation.suite import resolve_dataset, start_service  # noqa: E402
from qa.schema import Passage  # noqa: E402
from qa.service import QAService  # noqa: E402

PAIRS = ROOT / "eval" / "datasets" / "followups" / "pairs.jsonl"
BOOSTS = (0.0, 0.25, 0.5, 1.0, 2.0)


def load_pairs(docs: dict[str, dict[str, str]]) -> list[dict]:
    pairs = [json.loads(line) for line in PAIRS.read_text("utf-8").splitlines() if line.strip()]
    for pair in pairs:
        spans = []
        for ev in pair["evidence"]:
            text = docs[pair["corpus"]][ev["doc_id"]]
            start = text.index(ev["text"])
            spans.append((ev["doc_id"], start, start + len(ev["text"])))
        pair["spans"] = spans
    return pairs


def hit(p: Passage, spans: list[tuple[str, int, int]], level: str) -> bool:
    """Letter: the passage overlaps the evidence. CMRC: the passage is of the evidence's paragraph, the
    document level every CMRC retrieval number of this project uses (a ~510-character paragraph is 2 passages)."""
    if level == "doc":
        return any(p.doc_id == d for d, _, _ in spans)
    return any(p.doc_id == d and p.start < e and s < p.end for d, s, e in spans)


def cited(service: QAService, question: str) -> tuple[str, ...]:
    return tuple(s.passage_id for s in service.ask(question, 5).answer.spans)


def run_pairs(service: QAService, pairs: list[dict]) -> list[dict]:
    rows = []
    for pair in pairs:
        history = [Turn(pair["first"], cited(service, pair["first"]))]
        with_history = service.retrieve(pair["follow_up"], 5, history=history)
        alone = service.retrieve(pair["follow_up"], 5).search.hits
        rewrite = service.retrieve(pair["rewrite"], 5).search.hits
        level = "doc" if pair["corpus"] == "cmrc" else "span"
        rows.append({
            "id": pair["_id"], "corpus": pair["corpus"], "kind": pair["kind"], "split": pair["split"],
            "resolved": with_history.resolution.question, "rule": with_history.resolution.rule,
            "with_history": hit(with_history.search.hits[0].passage, pair["spans"], level),
            "without": hit(alone[0].passage, pair["spans"], level),
            "human_rewrite": hit(rewrite[0].passage, pair["spans"], level),
            "with_history_passage": hit(with_history.search.hits[0].passage, pair["spans"], "span"),
            "without_passage": hit(alone[0].passage, pair["spans"], "span"),
        })
    return rows


def query_hit(dataset: Dataset, q: Query, p: Passage) -> bool:
    return passage_grade(q, p) > 0 if q.evidence else p.doc_id in dataset.qrels.get(q.id, {})


def control(service: QAService, dataset: Dataset, label: str, queries: list[Query], rng: random.Random) -> dict:
    same_top = same_answer = hits_alone = hits_after = 0
    for q in queries:
        other = rng.choice([o for o in queries if o.id != q.id])
        alone = service.ask(q.text, 5)
        after = service.ask(q.text, 5, history=[Turn(other.text, cited(service, other.text))])
        same_top += alone.search.hits[0].passage.id == after.search.hits[0].passage.id
        same_answer += alone.answer.text == after.answer.text
        hits_alone += query_hit(dataset, q, alone.search.hits[0].passage)
        hits_after += query_hit(dataset, q, after.search.hits[0].passage)
    n = len(queries)
    return {"questions": label, "n": n, "hit@1 alone": round(hits_alone / n, 4),
            "hit@1 after an unrelated turn": round(hits_after / n, 4), "same top passage": round(same_top / n, 4),
            "same answer": round(same_answer / n, 4)}


def rate(rows: list[dict], key: str) -> float:
    return round(sum(r[key] for r in rows) / len(rows), 4) if rows else 0.0


def summary(rows: list[dict], boost: float, split: str) -> dict:
    chosen = [r for r in rows if split == "all" or r["split"] == split]
    return {"history_boost": boost, "split": split, "pairs": len(chosen),
            "hit@1 with history": rate(chosen, "with_history"), "hit@1 without": rate(chosen, "without"),
            "hit@1 human rewrite": rate(chosen, "human_rewrite"),
            "passage-level with / without": f"{rate(chosen, 'with_history_passage')} / {rate(chosen, 'without_passage')}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--inference", default="onnx-int8")
    parser.add_argument("--control", type=int, default=300, help="CMRC held-out questions in the control")
    args = parser.parse_args()
    settings = Settings()
    letter, cmrc = resolve_dataset("letter", settings), resolve_dataset("cmrc", settings)
    assert letter is not None and cmrc is not None, "the letter dataset and CMRC 2018 are needed"
    services = {"letter": start_service(letter, settings, args.inference),
                "cmrc": start_service(cmrc, settings, args.inference)}
    docs = {name: {d.doc_id: d.text for d in s.documents()} for name, s in services.items()}
    pairs = load_pairs(docs)
    started = time.perf_counter()
    by_boost = {}
    for boost in BOOSTS:
        rows = []
        for name, service in services.items():
            rows += run_pairs(service.with_settings(history_boost=boost), [p for p in pairs if p["corpus"] == name])
        by_boost[boost] = rows
    sweep = [summary(rows, b, s) for b, rows in by_boost.items() for s in ("dev", "test")]
    # Ties (a pair is 2 points of dev hit@1) go to the middle of the sweep rather than to an extreme.
    best = max(BOOSTS, key=lambda b: (summary(by_boost[b], b, "dev")["hit@1 with history"], -abs(b - 0.5)))
    rows = by_boost[best]
    held_out = [summary([r for r in rows if r["corpus"] == c], best, "test") | {"corpus": c} for c in ("letter", "cmrc")]
    held_out.append(summary(rows, best, "test") | {"corpus": "both"})
    by_kind = [summary([r for r in rows if r["kind"] == k], best, "all") | {"kind": k}
               for k in sorted({r["kind"] for r in rows})]
    rng = random.Random(7)
    service = services["letter"].with_settings(history_boost=best)
    controls = [control(service, letter, "letter, answerable, test split", [q for q in letter.queries
                                                                           if q.split == "test" and q.answerable], rng)]
    held = [q for q in cmrc.queries if q.split == "test"]
    controls.append(control(services["cmrc"].with_settings(history_boost=best), cmrc, "CMRC, held-out half (sample)",
                            rng.sample(held, min(args.control, len(held))), rng))
    took = round(time.perf_counter() - started, 1)
    # Dev misses only: the rules were developed on the dev pairs; the test pairs stay unread.
    misses = [r for r in rows if r["split"] == "dev" and not r["with_history"]]
    md = "\n".join([
        "# Follow-up questions (`history` in /ask)", "",
        "Regenerate: `python eval/bench_followups.py`. Pairs: eval/datasets/followups (written blind from the "
        "texts); the first question is asked, its cited passages become the history. A hit: the top passage "
        f"overlaps the follow-up's evidence. Model path {args.inference}; {took} s.", "",
        f"## Held-out (test) pairs, history_boost = {best} (chosen on the dev pairs)", "",
        "CMRC hits are at document (paragraph) level like every CMRC number here; the last column is the "
        "stricter passage level for both.", "",
        md_table(held_out, ["corpus", "pairs", "hit@1 with history", "hit@1 without", "hit@1 human rewrite",
                            "passage-level with / without"]),
        "## By kind (all pairs)", "",
        md_table(by_kind, ["kind", "pairs", "hit@1 with history", "hit@1 without", "hit@1 human rewrite"]),
        "## history_boost sweep", "", md_table(sweep),
        "## Questions that stand on their own, after an unrelated turn", "", md_table(controls),
        "## Misses on the dev pairs (the ones the rules were developed on)", "",
        md_table(misses, ["id", "corpus", "kind", "resolved", "rule", "without"]),
    ])
    write_report("followups", {"boost": best, "held_out": held_out, "by_kind": by_kind, "sweep": sweep,
                               "controls": controls, "rows": rows}, md)
    print(md)


if __name__ == "__main__":
    main()
