"""Source formats: which PDF library reads Chinese best and fastest, and what each of our loaders keeps.

(a) PDF libraries. The letter and 50 CMRC 2018 contexts are printed to PDFs (tests/documents/pdf.py:
hard-wrapped lines, a running header, a page number on every page); pypdf, pdfplumber, PyMuPDF and
pypdfium2 each extract the plain text of every page. Fidelity is the character-level similarity to
the source text: difflib.SequenceMatcher(autojunk=False).ratio() on both texts with all whitespace
removed (1.0 = identical). Plain extraction keeps the header and page numbers, which costs every
library the same; the `qa loader` row is pypdfium2 plus our reflow and header/footer removal.

(b) Formats. Every format with a generator (PDF here; DOCX, HTML and GBK text in
tests/documents/office.py) writes the letter (without its trailing 相关文章 navigation line) and the
same 50 CMRC contexts, one file each; `qa.corpus.load_document` reads them. Fidelity is measured as
above on the letter, plus the share of its paragraphs that come back as exactly one line; throughput
is documents/s and MB/s (file bytes) over the 50 files, best of 3 passes.

    python eval/bench_formats.py          # writes eval/reports/formats.{json,md}, ~1 minute
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.corpus import load_document  # noqa: E402
from qa.evaluation.report import md_table, write_report  # noqa: E402
from tests.documents.pdf import prepare_font, write_pdf  # noqa: E402

LETTER = ROOT / "tests" / "fixtures" / "corpus" / "sheitc-2019-15.txt"
CMRC = Path("/work/shared/data/cmrc2018/cmrc2018_dev.json")
TITLE = "上海市经济和信息化委员会关于《关于加快推进我市智慧城市建设科学可持续性发展的建议》的答复"
_SPACE = re.compile(r"\s+")


def similarity(source: str, extracted: str) -> float:
    """difflib ratio of the two texts with every whitespace character removed."""
    a, b = _SPACE.sub("", source), _SPACE.sub("", extracted)
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def paragraphs_kept(source: str, extracted: str) -> float:
    """Share of the source's paragraphs (non-empty lines) that are a line of the extracted text."""
    wanted = [line.strip() for line in source.splitlines() if line.strip()]
    got = {line.strip() for line in extracted.splitlines()}
    return sum(line in got for line in wanted) / len(wanted)


# --- (a) PDF libraries: plain text of every page ------------------------------------------------


def _pypdf(path: Path) -> tuple[str, int]:
    import pypdf

    pages = pypdf.PdfReader(path).pages
    return "\n".join(page.extract_text() for page in pages), len(pages)


def _pdfplumber(path: Path) -> tuple[str, int]:
    import pdfplumber

    with pdfplumber.open(path) as pdf:
        return "\n".join(page.extract_text() or "" for page in pdf.pages), len(pdf.pages)


def _pymupdf(path: Path) -> tuple[str, int]:
    import pymupdf

    with pymupdf.open(path) as document:
        return "\n".join(page.get_text() for page in document), document.page_count


def _pypdfium2(path: Path) -> tuple[str, int]:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(path)
    try:
        return "\n".join(document[i].get_textpage().get_text_range() for i in range(len(document))), len(document)
    finally:
        document.close()


def _qa_loader(path: Path) -> tuple[str, int]:
    doc = load_document(path)
    return doc.text, len(doc.page_starts)


LIBRARIES: list[tuple[str, str, str, Callable[[Path], tuple[str, int]]]] = [
    ("pypdf", "pypdf", "BSD-3-Clause", _pypdf),
    ("pdfplumber", "pdfplumber", "MIT (pdfminer.six: MIT)", _pdfplumber),
    ("PyMuPDF", "pymupdf", "AGPL-3.0 or commercial", _pymupdf),
    ("pypdfium2", "pypdfium2", "Apache-2.0 / BSD-3-Clause (PDFium: BSD-3)", _pypdfium2),
    ("qa loader (pypdfium2 + reflow)", "pypdfium2", "as pypdfium2", _qa_loader),
]


def best_of(runs: int, extract: Callable[[Path], tuple[str, int]], path: Path) -> tuple[str, int, float]:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        text, pages = extract(path)
        best = min(best, time.perf_counter() - start)
    return text, pages, best


def compare_libraries(pdfs: list[tuple[str, Path, str]], runs: int) -> list[dict]:
    rows = []
    for label, path, source in pdfs:
        for name, package, licence, extract in LIBRARIES:
            text, pages, seconds = best_of(runs, extract, path)
            rows.append({
                "pdf": label, "library": name, "version": version(package), "licence": licence, "pages": pages,
                "similarity": round(similarity(source, text), 4), "ms_per_page": round(1000 * seconds / pages, 2),
            })  # fmt: skip
            print(f"{label:28} {name:32} sim={rows[-1]['similarity']:.4f} {rows[-1]['ms_per_page']:8.2f} ms/page")
    return rows


# --- (b) every format with a generator -------------------------------------------------------------


def writers() -> tuple[dict[str, tuple[str, Callable[[Path, str, str | None], None]]], list[str]]:
    """format -> (file suffix, writer(path, text, title)); and the formats left out, with why."""
    found: dict[str, tuple[str, Callable[[Path, str, str | None], None]]] = {
        "pdf": (".pdf", lambda path, text, title: write_pdf(path, text, title)),
        "txt (UTF-8)": (".txt", lambda path, text, title: path.write_text(text, encoding="utf-8")),
    }
    try:
        from tests.documents.office import write_docx, write_gbk, write_html
    except ImportError as exc:
        return found, [f"docx, html, txt (GBK): tests/documents/office.py cannot be imported ({exc})"]
    found["docx"] = (".docx", write_docx)
    found["html"] = (".html", write_html)
    found["txt (GBK)"] = (".txt", lambda path, text, title: write_gbk(path, text))
    return found, []


def ingest(directory: Path, runs: int) -> tuple[float, int]:
    """Best-of-`runs` seconds to load every file in `directory`, and their total size in bytes."""
    files = sorted(directory.iterdir())
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for path in files:
            load_document(path)
        best = min(best, time.perf_counter() - start)
    return best, sum(path.stat().st_size for path in files)


def compare_formats(work: Path, body: str, contexts: list[str], runs: int) -> tuple[list[dict], list[str]]:
    found, missing = writers()
    rows = []
    for name, (suffix, write) in found.items():
        folder = work / re.sub(r"\W+", "-", name).strip("-")
        (folder / "letter").mkdir(parents=True)
        (folder / "cmrc").mkdir()
        letter = folder / "letter" / f"letter{suffix}"
        write(letter, body, TITLE)
        text = load_document(letter).text
        start = time.perf_counter()
        for i, context in enumerate(contexts):
            write(folder / "cmrc" / f"cmrc-{i:03}{suffix}", context, None)
        generated = time.perf_counter() - start
        seconds, size = ingest(folder / "cmrc", runs)
        rows.append({
            "format": name, "letter_similarity": round(similarity(body, text), 4),
            "letter_paragraphs_kept": round(paragraphs_kept(body, text), 4),
            "docs": len(contexts), "MB": round(size / 1e6, 3), "docs_per_s": round(len(contexts) / seconds, 1),
            "MB_per_s": round(size / 1e6 / seconds, 2), "generate_s": round(generated, 2),
        })  # fmt: skip
        print(rows[-1], flush=True)
    return rows, missing


def cmrc_contexts(count: int) -> list[str]:
    """The first `count` CMRC 2018 dev contexts that GBK can encode (so every format holds the same documents)."""
    data = json.loads(CMRC.read_text(encoding="utf-8"))
    out = []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"].strip()
            try:
                context.encode("gbk")
            except UnicodeEncodeError:
                continue
            out.append(context)
            if len(out) == count:
                return out
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=50, help="CMRC contexts per format")
    parser.add_argument("--runs", type=int, default=3, help="timing runs (best is kept)")
    args = parser.parse_args()
    lines = LETTER.read_text(encoding="utf-8").splitlines()
    body = "\n".join(lines[:-1] if lines[-1] == "相关文章" else lines)
    contexts = cmrc_contexts(args.docs)
    big = "\n".join(contexts)
    started = time.perf_counter()
    prepare_font([body, big, TITLE])  # one embedded font for every PDF below
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pdfs = [
            ("letter (embedded Noto CJK)", work / "letter.pdf", body),
            ("letter (STSong-Light, not embedded)", work / "letter-cid.pdf", body),
            (f"{len(contexts)} CMRC contexts", work / "cmrc.pdf", big),
            (f"{len(contexts)} CMRC contexts (STSong-Light)", work / "cmrc-cid.pdf", big),
        ]
        write_pdf(pdfs[0][1], body, TITLE)
        write_pdf(pdfs[1][1], body, TITLE, embed_font=False)
        write_pdf(pdfs[2][1], big, "CMRC 2018 dev")
        write_pdf(pdfs[3][1], big, "CMRC 2018 dev", embed_font=False)
        libraries = compare_libraries(pdfs, args.runs)
        formats, missing = compare_formats(work, body, contexts, args.runs)
    md = (
        "# Source formats\n\n"
        "Fidelity: character-level similarity to the source, `difflib.SequenceMatcher(autojunk=False).ratio()` "
        "with all whitespace removed (1.0 = identical).\n\n"
        "## (a) PDF libraries, plain text of every page\n\n"
        "Plain extraction keeps the running header and the page numbers (the same cost for every library); "
        "the `qa loader` rows add our reflow and header/footer removal. Time: best of "
        f"{args.runs} runs.\n\n"
        + md_table(libraries, ["pdf", "library", "version", "licence", "pages", "similarity", "ms_per_page"])
        + f"\n## (b) Our loaders: the letter's fidelity, ingest of {len(contexts)} CMRC documents per format\n\n"
        "`letter_paragraphs_kept`: share of the letter's paragraphs that come back as exactly one line. "
        f"Throughput: `qa.corpus.load_document` over the files, best of {args.runs} passes.\n\n"
        + md_table(formats)
        + ("".join(f"\nNot measured: {why}\n" for why in missing))
    )
    write_report("formats", {"libraries": libraries, "formats": formats, "not_measured": missing,
                             "cmrc_docs": len(contexts), "seconds": round(time.perf_counter() - started, 1)}, md)
    print(md)


if __name__ == "__main__":
    main()
