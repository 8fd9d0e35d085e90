"""Metadata extraction report: 文号, title, addressee, issuer and date read from each document's own text.

Every file of eval/datasets/metadata/docs is loaded through `qa.corpus.load_document` (no sidecar, so the
values come from qa.metadata and the format) and each field is compared with labels.jsonl, exactly after
removing whitespace (a title broken over two lines is labelled as one line). A field labelled null must
come back empty; for the title, which the loader always fills, null means "the file name, nothing invented".
The labels were written from the documents before the extractor was tuned; only the `dev` half was looked
at while tuning, the `test` half is reported as held out. The title is also scored under the other
precedence (the format's title before the text's) to show why qa.corpus orders them as it does.

    python eval/bench_metadata.py
    python eval/bench_metadata.py --split dev --verbose   # and print every miss
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.corpus import LOADERS, load_document  # noqa: E402
from qa.evaluation.report import md_table, write_report  # noqa: E402
from qa.metadata import extract  # noqa: E402

DATASET = ROOT / "eval" / "datasets" / "metadata"
FIELDS = ("title", "doc_number", "recipient", "issuer", "date")
SPLITS = ("dev", "test")


def _norm(value: object) -> str | None:
    return None if value is None else re.sub(r"\s+", "", str(value)) or None


def _format_first_title(path: Path) -> str:
    """The title under the other precedence: the format's own title, then the text's, then the file name."""
    extracted = LOADERS[path.suffix.lower()](path, path.read_bytes())
    return extracted.title or extract(extracted.text).get("title") or path.stem


def evaluate(dataset: Path = DATASET) -> dict:
    labels = [json.loads(line) for line in (dataset / "labels.jsonl").read_text("utf-8").splitlines() if line.strip()]
    rows, misses = [], []
    for label in labels:
        path = dataset / "docs" / label["file"]
        doc = load_document(path)
        got = {field: getattr(doc, field) for field in FIELDS}
        expected = {field: label[field] for field in FIELDS} | {"title": label["title"] or path.stem}
        alt_title = _format_first_title(path)
        row = {"file": label["file"], "split": label["split"]}
        for field in FIELDS:
            row[field] = _norm(got[field]) == _norm(expected[field])
            if not row[field]:
                misses.append(
                    {
                        "file": label["file"],
                        "split": label["split"],
                        "field": field,
                        "expected": expected[field],
                        "got": got[field],
                    }
                )
        row["title_format_first"] = _norm(alt_title) == _norm(expected["title"])
        rows.append(row)
    summary = []
    for split in (*SPLITS, "all"):
        chosen = [r for r in rows if split == "all" or r["split"] == split]
        line: dict = {"split": split, "documents": len(chosen)}
        for field in (*FIELDS, "title_format_first"):
            line[field] = f"{sum(r[field] for r in chosen)}/{len(chosen)}"
        line["all fields"] = f"{sum(all(r[f] for f in FIELDS) for r in chosen)}/{len(chosen)}"
        summary.append(line)
    return {"dataset": str(dataset.relative_to(ROOT)), "summary": summary, "documents": rows, "misses": misses}


def markdown(result: dict) -> str:
    columns = ["split", "documents", *FIELDS, "all fields"]
    text = "# Metadata extraction (qa.metadata through qa.corpus.load_document)\n\n"
    text += f"Correct / total per field, {result['dataset']}; exact match after removing whitespace.\n\n"
    text += md_table(result["summary"], columns)
    text += "\n## Title precedence\n\n"
    text += "`title`: the text's title before the format's (shipped); `title_format_first`: the other order.\n\n"
    text += md_table(result["summary"], ["split", "title", "title_format_first"])
    text += "\n## Misses\n\n"
    text += md_table(result["misses"], ["split", "file", "field", "expected", "got"]) if result["misses"] else "none\n"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=SPLITS, help="print only this split's misses (the report has both)")
    parser.add_argument("--verbose", action="store_true", help="print every miss")
    args = parser.parse_args()
    result = evaluate()
    json_path, md_path = write_report("metadata", result, markdown(result))
    print(md_table(result["summary"], ["split", "documents", *FIELDS, "all fields", "title_format_first"]))
    if args.verbose:
        for miss in result["misses"]:
            if args.split in (None, miss["split"]):
                where = f"{miss['split']:4} {miss['file']:34} {miss['field']:10}"
                print(f"{where} expected {miss['expected']!r} got {miss['got']!r}")
    print(f"wrote {json_path.relative_to(ROOT)} and {md_path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
