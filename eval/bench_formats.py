"""Source formats: which PDF library reads Chinese best and fastest, and what each of our loaders keeps.

(a) PDF libraries. The letter and 50 CMRC 2018 contexts are printed to PDFs (tests/documents/pdf.py:
hard-wrapped lines, a running header, a page number on every page); pypdf, pdfplumber, PyMuPDF and
pypdfium2 each extract the plain text of every page. Fidelity is the character-level similarity to
the source text: difflib.SequenceMatcher(autojunk=False).ratio() on both texts with all whitespace
removed (1.0 = identical). Plain extraction keeps the header and page numbers, which costs every
library the same; the `qa loader` row is pypdfium2 plus our reflow and header/footer removal.

(b) Formats. Every format with a generator (PDF here, with paragraphs marked by a first-line indent,
by space before, or not at all; DOCX, HTML and GBK text in tests/documents/office.py) writes the
letter (without its trailing 相关文章 navigation line) and the same 50 CMRC contexts, one file each;
`qa.corpus.load_document` reads them. Fidelity is measured as above on the letter, plus the share
of its paragraphs that come back as exactly one line; throughput is documents/s and MB/s (file
bytes) over the 50 files, best of 3 passes.

(c) HTML main text. 22 articles (the letter, the structured letter, the first context of 20 CMRC
articles in lines of two sentences) are written as pages in the four layouts of
tests/documents/html_pages.py (88 pages); our loader (qa.formats.html, selectolax) and trafilatura in
its default, favor_precision and favor_recall modes extract the main text (both from the text
qa.formats.text.decode_markup reads, trafilatura with tables kept). Similarity as above against the
article's lines; lines recovered: share of the article's lines that come back as a line; lines
correct: share of the extracted lines that are article lines; chrome: pages whose extraction holds
text of the site around the article (html_pages.CHROME); time: best of 3 runs, mean per page.

(d) Encoding detection on short texts. Random slices of 10 to 500 characters of the CMRC contexts and
the letter (Big5: converted to Traditional script by OpenCC first), encoded in GBK, GB18030 or Big5;
the share that charset-normalizer's best guess alone, and `qa.formats.text.decode`, read back exactly.
Slices the encoding cannot hold, or whose bytes are valid UTF-8 (and so are read as UTF-8), are left out.

    python eval/bench_formats.py          # writes eval/reports/formats.{json,md}, ~1 minute
"""

from __future__ import annotations

import argparse
import difflib
import itertools
import json
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from charset_normalizer import from_bytes  # noqa: E402
from opencc import OpenCC  # noqa: E402

from qa.corpus import load_document  # noqa: E402
from qa.errors import CorpusError  # noqa: E402
from qa.evaluation.report import md_table, write_report  # noqa: E402
from qa.formats.html import load_html  # noqa: E402
from qa.formats.text import decode, decode_markup  # noqa: E402
from tests.documents.html_pages import CHROME, LAYOUTS, expected_lines  # noqa: E402
from tests.documents.pdf import prepare_font, write_pdf  # noqa: E402

LETTER = ROOT / "tests" / "fixtures" / "corpus" / "sheitc-2019-15.txt"
STRUCTURED_LETTER = ROOT / "tests" / "fixtures" / "structured_letter.txt"
CMRC = Path("/work/shared/data/cmrc2018/cmrc2018_dev.json")
TITLE = "上海市经济和信息化委员会关于《关于加快推进我市智慧城市建设科学可持续性发展的建议》的答复"
_SPACE = re.compile(r"\s+")


def similarity(source: str, extracted: str) -> float:
    """difflib ratio of the two texts with every whitespace character removed."""
    a, b = _SPACE.sub("", source), _SPACE.sub("", extracted)
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def paragraphs_kept(source: str, extracted: str) -> float:
    """Share of the source's paragraphs (non-empty lines) that are a line of the extracted text (0 if it has none)."""
    wanted = [line.strip() for line in source.splitlines() if line.strip()]
    got = {line.strip() for line in extracted.splitlines()}
    return sum(line in got for line in wanted) / len(wanted) if wanted else 0.0


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
            try:
                text, pages, seconds = best_of(runs, extract, path)
            except ImportError:  # the comparison libraries are not run-time dependencies
                print(f"{name}: not installed, left out")
                continue
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
        "pdf (spaced paragraphs)": (".pdf", lambda path, text, title: write_pdf(path, text, title, style="spaced")),
        "pdf (unmarked paragraphs)": (".pdf", lambda path, text, title: write_pdf(path, text, title, style="block")),
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


# --- (c) HTML main text: our loader vs trafilatura -------------------------------------------------


def _qa_html(path: Path) -> tuple[str, int]:
    return load_html(path, path.read_bytes()).text, 1


def _trafilatura(**mode: bool) -> Callable[[Path], tuple[str, int]]:
    def extract(path: Path) -> tuple[str, int]:
        import trafilatura

        page = decode_markup(path, path.read_bytes())  # the same text our loader reads
        return trafilatura.extract(page, include_comments=False, include_tables=True, **mode) or "", 1

    return extract


# name, package (for its version), extract(path) -> (text, pages) as the PDF libraries above
HTML_EXTRACTORS: list[tuple[str, str, Callable[[Path], tuple[str, int]]]] = [
    ("qa loader (selectolax)", "selectolax", _qa_html),
    ("trafilatura", "trafilatura", _trafilatura()),
    ("trafilatura (favor_precision)", "trafilatura", _trafilatura(favor_precision=True)),
    ("trafilatura (favor_recall)", "trafilatura", _trafilatura(favor_recall=True)),
]


def articles(letter: str, cmrc_articles: int) -> list[tuple[str, str]]:
    """(title, text) of the pages' articles: the letter, the structured letter (without the navigation scraped
    after it) and the first context of `cmrc_articles` CMRC articles, two sentences a line."""
    structured = STRUCTURED_LETTER.read_text(encoding="utf-8").split("\n相关文章\n")[0]
    meta = json.loads(STRUCTURED_LETTER.with_suffix(".meta.json").read_text(encoding="utf-8"))
    firsts: dict[str, str] = {}
    for title, context in cmrc_paragraphs():
        firsts.setdefault(title, context)
        if len(firsts) == cmrc_articles:
            break
    out = [(TITLE, letter), (meta["title"], structured)]
    for title, context in firsts.items():
        sentences = [s for s in re.split(r"(?<=。)", context) if s.strip()]
        out.append((title, "\n".join("".join(sentences[i : i + 2]) for i in range(0, len(sentences), 2))))
    return out


def compare_html(work: Path, texts: list[tuple[str, str]], runs: int) -> tuple[list[dict], list[str]]:
    """Per extractor, per layout and over all pages: similarity, lines recovered and correct, pages with chrome,
    time; and the extractors left out, with why."""
    pages = []
    for layout, write in LAYOUTS.items():
        for i, (title, text) in enumerate(texts):
            path = work / f"{layout}-{i:02}.html"
            write(path, text, title)
            pages.append((layout, path, "\n".join(expected_lines(layout, text))))
    rows, missing = [], []
    for name, package, extract in HTML_EXTRACTORS:
        scores: dict[str, list[tuple[float, float, float, bool, float]]] = {"all": []}
        try:
            for layout, path, truth in pages:
                text, _, seconds = best_of(runs, extract, path)
                chrome = any(word in text and word not in truth for word in CHROME)
                recovered, correct = paragraphs_kept(truth, text), paragraphs_kept(text, truth)
                score = (similarity(truth, text), recovered, correct, chrome, seconds)
                scores["all"].append(score)
                scores.setdefault(layout, []).append(score)
        except ImportError:  # trafilatura is not a run-time dependency
            missing.append(f"{name}: {package} is not installed")
            print(f"{name}: not installed, left out")
            continue
        for layout, got in scores.items():
            rows.append({
                "extractor": name, "version": version(package), "layout": layout, "pages": len(got),
                "similarity_mean": round(statistics.mean(s[0] for s in got), 4),
                "similarity_min": round(min(s[0] for s in got), 4),
                "lines_recovered": round(statistics.mean(s[1] for s in got), 3),
                "lines_correct": round(statistics.mean(s[2] for s in got), 3),
                "pages_with_chrome": sum(s[3] for s in got),
                "ms_per_page": round(1000 * statistics.mean(s[4] for s in got), 2),
            })  # fmt: skip
            print(rows[-1], flush=True)
    return rows, missing


# --- (d) encoding detection on short texts -----------------------------------------------------------

ENCODINGS = ("gbk", "gb18030", "big5")
SLICE_LENGTHS = (10, 20, 40, 100, 500)


def _charset_normalizer(raw: bytes) -> str | None:
    best = from_bytes(raw).best()
    return None if best is None else str(best)


def _qa_decode(raw: bytes) -> str | None:
    try:
        return decode(Path("sample.txt"), raw)
    except CorpusError:  # no encoding reads it
        return None


def _valid_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def encoding_detection(texts: list[str], samples: int) -> list[dict]:
    """Per encoding and slice length, the share of `samples` random slices of `texts` that charset-normalizer
    alone and `qa.formats.text.decode` read back exactly (slices the encoding cannot hold, or that are valid
    UTF-8 once encoded, are left out of the count)."""
    rng = random.Random(0)
    to_traditional = OpenCC("s2t").convert
    rows = []
    for encoding in ENCODINGS:
        for length in SLICE_LENGTHS:
            long_enough = [text for text in texts if len(text) >= length]
            counted, exact = 0, {"charset_normalizer": 0, "qa_decode": 0}
            for _ in range(samples):
                text = rng.choice(long_enough)
                start = rng.randrange(len(text) - length + 1)
                piece = text[start : start + length]
                if encoding == "big5":
                    piece = to_traditional(piece)
                try:
                    raw = piece.encode(encoding)
                except UnicodeEncodeError:
                    continue
                if _valid_utf8(raw):
                    continue
                counted += 1
                exact["charset_normalizer"] += _charset_normalizer(raw) == piece
                exact["qa_decode"] += _qa_decode(raw) == piece
            rows.append({"encoding": encoding.upper(), "chars": length, "texts": counted}
                        | {name: round(hits / max(counted, 1), 3) for name, hits in exact.items()})  # fmt: skip
            print(rows[-1], flush=True)
    return rows


def cmrc_paragraphs(encoding: str = "gbk") -> Iterator[tuple[str, str]]:
    """(article title, context) of every CMRC 2018 dev paragraph that `encoding` can encode."""
    data = json.loads(CMRC.read_text(encoding="utf-8"))
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"].strip()
            try:
                context.encode(encoding)
            except UnicodeEncodeError:
                continue
            yield article["title"], context


def cmrc_contexts(count: int | None, encoding: str = "gbk") -> list[str]:
    """The first `count` (None: every) CMRC 2018 dev context that `encoding` can encode; GBK by default, so
    every format holds the same documents."""
    return [context for _, context in itertools.islice(cmrc_paragraphs(encoding), count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=50, help="CMRC contexts per format")
    parser.add_argument("--runs", type=int, default=3, help="timing runs (best is kept)")
    parser.add_argument("--cmrc-articles", type=int, default=20, help="CMRC articles per HTML layout")
    parser.add_argument("--samples", type=int, default=300, help="random slices per encoding and length")
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
        (work / "html-pages").mkdir()
        texts = articles(body, args.cmrc_articles)
        html_rows, html_missing = compare_html(work / "html-pages", texts, args.runs)
    detection = encoding_detection(cmrc_contexts(None, encoding="gb18030") + [body], args.samples)
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
        + "\n## (c) HTML main text: our loader vs trafilatura\n\n"
        f"{len(texts)} articles (the letter, the structured letter, {len(texts) - 2} CMRC contexts) x "
        f"{len(LAYOUTS)} page layouts ({', '.join(LAYOUTS)}; tests/documents/html_pages.py). "
        "`lines_recovered`: share of the article's lines that come back as a line; `lines_correct`: share of the "
        "extracted lines that are article lines; `pages_with_chrome`: pages whose extraction holds text of the "
        "site around the article (navigation, breadcrumb, date line, share bar, 相关文章, footer, script). "
        f"Time: best of {args.runs} runs, mean per page, decoding included.\n\n"
        + md_table(html_rows)
        + ("".join(f"\nNot measured: {why}\n" for why in html_missing))
        + "\n## (d) Encoding detection on short texts\n\n"
        f"Share of {args.samples} random slices per row (`texts`: those the encoding can hold and that are not "
        "valid UTF-8) read back exactly, by charset-normalizer "
        f"{version('charset-normalizer')} alone (`from_bytes(raw).best()`) and by `qa.formats.text.decode`. "
        "Big5 slices are converted to Traditional script first (OpenCC s2t).\n\n" + md_table(detection)
    )
    write_report(
        "formats",
        {
            "libraries": libraries,
            "formats": formats,
            "html_main_text": html_rows,
            "encoding_detection": detection,
            "not_measured": missing + html_missing,
            "cmrc_docs": len(contexts),
            "seconds": round(time.perf_counter() - started, 1),
        },
        md,
    )
    print(md)


if __name__ == "__main__":
    main()
