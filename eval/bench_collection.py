"""Incremental document changes against a full build, on CMRC 2018 contexts as documents.

The 848 contexts become 848 text files with a title sidecar. 838 form the corpus and are built
from scratch (empty embedding cache: the cost of a build before this change, and of any build
of a new corpus); then 10 new documents are added, 10 replaced (a sentence appended) and 10
deleted, each through `QAService.change_documents` (what `qa add`, PUT and DELETE run), and a
forced full rebuild with a warm cache is timed too. The target: adding ~1% of the documents
costs at most 5% of a full build.

    python eval/bench_collection.py            # writes eval/reports/collection.{json,md,png}
    python eval/bench_collection.py --docs 200 # a quicker, smaller run
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import indexer  # noqa: E402
from qa.collection import Upload  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.embedding import load_encoder  # noqa: E402
from qa.evaluation.datasets import load_cmrc  # noqa: E402
from qa.evaluation.report import md_table, write_report  # noqa: E402
from qa.service import QAService  # noqa: E402


def write_corpus(folder: Path, documents: list) -> None:
    for doc in documents:
        (folder / f"{doc.doc_id}.txt").write_text(doc.text, "utf-8")
        (folder / f"{doc.doc_id}.meta.json").write_text(json.dumps({"title": doc.title}, ensure_ascii=False), "utf-8")


def upload(doc, text: str | None = None) -> Upload:
    return Upload(f"{doc.doc_id}.txt", (text or doc.text).encode("utf-8"), doc.doc_id, {"title": doc.title})


def timed(label: str, fn) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    print(f"{label}: {seconds:.2f} s", flush=True)
    return seconds, result


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    labels = [r["operation"] for r in rows]
    ax.barh(labels[::-1], [r["seconds"] for r in rows][::-1], color="#b3261e")
    ax.set_xscale("log")
    ax.set_xlabel("seconds (log scale)")
    ax.set_title("Document changes vs. a full build (CMRC 2018 contexts, this machine)")
    for i, r in enumerate(rows[::-1]):
        ax.text(r["seconds"], i, f" {r['seconds']:.1f} s", va="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=848, help="documents in all (10 of them are added later)")
    parser.add_argument("--change", type=int, default=10, help="documents added, replaced and deleted")
    args = parser.parse_args()
    settings = Settings()
    documents = load_cmrc(settings.cmrc_path).documents[: args.docs]
    initial, extra = documents[: -args.change], documents[-args.change :]
    work = Path(tempfile.mkdtemp(prefix="bench-collection-"))
    corpus = work / "corpus"
    corpus.mkdir()
    write_corpus(corpus, initial)
    settings = settings.updated(corpus_dir=corpus, index_dir=work / "index")
    encoder = load_encoder(settings)

    full, built = timed(f"full build, {len(initial)} documents, empty cache",
                        lambda: indexer.rebuild(settings, encoder))
    service = QAService(settings, encoder, built)
    warm, rebuilt = timed("full rebuild, warm cache", lambda: indexer.rebuild(settings, encoder, terms=service.state.terms))
    service = QAService(settings, encoder, rebuilt, terms=service.state.terms)
    add, (after_add, _) = timed(f"add {len(extra)}", lambda: service.change_documents(add=[upload(d) for d in extra]))
    # A correction inside the text (its last passage changes), different in every document.
    changed = {d.doc_id: upload(d, d.text + f"（第{i + 1}份更正：数字已核对。）")
               for i, d in enumerate(initial[: args.change])}
    replace, (after_replace, _) = timed(f"replace {len(changed)}", lambda: service.change_documents(replace=changed))
    gone = [d.doc_id for d in initial[args.change : 2 * args.change]]
    delete, (after_delete, _) = timed(f"delete {len(gone)}", lambda: service.change_documents(remove=gone))

    def row(operation: str, seconds: float, manifest) -> dict:
        return {"operation": operation, "seconds": round(seconds, 2), "share_of_full_build": round(seconds / full, 4),
                "documents": manifest.documents, "passages": manifest.passages, "embedded": manifest.embedded}

    rows = [
        row(f"full build ({len(initial)} docs, empty cache)", full, built.manifest),
        row("full rebuild, warm cache", warm, rebuilt.manifest),
        row(f"add {len(extra)} ({len(extra) / len(initial):.1%} of the docs)", add, after_add.manifest),
        row(f"replace {len(changed)}", replace, after_replace.manifest),
        row(f"delete {len(gone)}", delete, after_delete.manifest),
    ]
    target = {"add_share_of_full_build": rows[2]["share_of_full_build"], "target": 0.05,
              "met": rows[2]["share_of_full_build"] <= 0.05}
    report = {"inference": encoder.backend, "model": encoder.model_id, "rows": rows, "target": target}
    plot(rows, Path(ROOT / "eval" / "reports" / "collection.png"))
    markdown = "\n".join([
        "# Incremental document changes (eval/bench_collection.py)",
        "",
        f"CMRC 2018 dev contexts as documents; model {encoder.model_id} ({encoder.backend}); "
        "each change is `QAService.change_documents` (what `qa add`, PUT and DELETE /documents run): "
        "validate, move files, rebuild BM25 and FAISS with vectors from the embedding cache, publish.",
        "",
        md_table(rows),
        "",
        f"Adding {len(extra)} documents took {target['add_share_of_full_build']:.1%} of a full build "
        f"(target ≤ 5%: {'met' if target['met'] else 'not met'}).",
        "",
        "![timings](collection.png)",
    ])
    write_report("collection", report, markdown)
    print(md_table(rows))


if __name__ == "__main__":
    main()
