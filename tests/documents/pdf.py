"""PDF files as a word processor prints them: hard-wrapped lines, a running header and page numbers.

The text is set in Noto Sans CJK SC (a subfont of the system's NotoSansCJK-Regular.ttc), embedded
in the PDF. reportlab embeds TrueType outlines only and Noto CJK ships CFF (PostScript) outlines,
so the glyphs the text needs are subset with fontTools and converted to quadratic curves first
(cached per character set: about a second for a letter, a few for 50 CMRC passages).

Each text line is a paragraph: its first visual line is indented by two characters (the Chinese
convention; or paragraphs are spaced apart, or not marked at all), and it is wrapped at the right
margin between any two CJK characters, never inside a Latin word, with closing punctuation allowed
to hang into the margin (避头尾). So a loader has to reflow the lines to get the paragraphs back.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont as FontToolsFont
from fontTools.ttLib import newTable
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.lib.pdfencrypt import StandardEncryption
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

NOTO_SANS_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
SC_SUBFONT = 2  # the TTC's faces: 0 JP, 1 KR, 2 SC, 3 TC, 4 HK
PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 72.0
FONT_SIZE, LEADING = 12.0, 20.0
HEADER_SIZE = 9.0
INDENT = 2 * FONT_SIZE
_BASE_CHARS = "".join(chr(c) for c in range(0x20, 0x7F)) + "—－第页共"
_HANGING = "，。、；：！？）》」』”’,.;:!?)"
_TOKEN = re.compile(r"[\x21-\x7e]+| +|.")
_fonts: dict[frozenset[str], str] = {}
ParagraphStyle = Literal["indent", "spaced", "block"]


def _convert_to_truetype(font: FontToolsFont) -> None:
    """Replace the CFF outlines of `font` by TrueType (quadratic) ones, in place."""
    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyphs[name] = pen.glyph()
    font["loca"] = newTable("loca")
    glyf = font["glyf"] = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = glyphs
    del font["CFF "]
    maxp = font["maxp"] = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for attr in (
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
        "maxComponentElements",
    ):
        setattr(maxp, attr, 0)
    maxp.maxZones = 1
    font["head"].glyphDataFormat = 0
    font["post"].formatType = 3.0
    font.sfntVersion = "\x00\x01\x00\x00"


def prepare_font(texts: Iterable[str]) -> str:
    """The name of a registered reportlab font with a glyph for every character of `texts`.

    Call it once with every text a batch will write (as the benchmark does) to build one font for all.
    """
    chars = frozenset(_BASE_CHARS).union(*map(set, texts)) - {"\n", "\r", "\t"}
    for covered, name in _fonts.items():
        if chars <= covered:
            return name
    font = FontToolsFont(NOTO_SANS_CJK, fontNumber=SC_SUBFONT)
    options = subset.Options()
    options.layout_features = []
    options.hinting = False
    options.notdef_outline = True
    options.drop_tables += ["VORG", "vhea", "vmtx", "GSUB", "GPOS", "GDEF", "BASE"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in chars])
    subsetter.subset(font)
    _convert_to_truetype(font)
    # reportlab shares one face per PostScript name across fonts: each subset needs a name of its own.
    name = f"NotoSansCJKsc-Subset{len(_fonts)}"
    names = font["name"]
    names.names = []
    for name_id, value in ((1, name), (2, "Regular"), (4, name), (6, name)):
        names.setName(value, name_id, 3, 1, 0x409)
    buffer = io.BytesIO()
    font.save(buffer)
    buffer.seek(0)
    pdfmetrics.registerFont(TTFont(name, buffer))
    _fonts[chars] = name
    return name


def _wrap(line: str, font: str, width: float, indent: float) -> list[str]:
    """`line` as visual lines at most `width` points wide (the first `indent` less), as a word processor breaks them."""
    out: list[str] = []
    current, used, limit = "", 0.0, width - indent
    for token in _TOKEN.findall(line.strip()):
        size = pdfmetrics.stringWidth(token, font, FONT_SIZE)
        if used + size <= limit or (token in _HANGING and current) or (token.isspace() and current):
            current, used = current + token, used + size
            continue
        if current.strip():
            out.append(current.rstrip())
        current, used, limit = "", 0.0, width
        if token.isspace():
            continue
        while pdfmetrics.stringWidth(token, font, FONT_SIZE) > limit:  # a run longer than a line: break it anywhere
            cut = next(i for i in range(1, len(token) + 1) if pdfmetrics.stringWidth(token[:i], font, FONT_SIZE) > limit)
            out.append(token[: cut - 1])
            token = token[cut - 1 :]
        current, used = token, pdfmetrics.stringWidth(token, font, FONT_SIZE)
    if current.strip() or not out:
        out.append(current.rstrip())
    return out


def layout(text: str, font: str, style: ParagraphStyle = "indent") -> list[list[tuple[float, float, str]]]:
    """Pages of (indent, depth below the top margin, visual line): every non-empty text line wrapped.

    A paragraph's first line is indented two characters ("indent"), or starts after half a line of
    space ("spaced"), or is not marked at all ("block": only the line breaks tell paragraphs apart).
    """
    width, height = PAGE_WIDTH - 2 * MARGIN, PAGE_HEIGHT - 2 * MARGIN
    indent = INDENT if style == "indent" else 0.0
    pages: list[list[tuple[float, float, str]]] = [[]]
    depth = 0.0
    for paragraph in filter(str.strip, text.splitlines()):
        if style == "spaced" and pages[-1]:
            depth += LEADING / 2
        for i, visual in enumerate(_wrap(paragraph, font, width, indent)):
            if depth + LEADING > height:
                pages.append([])
                depth = 0.0
            pages[-1].append((indent if i == 0 else 0.0, depth, visual))
            depth += LEADING
    return pages


def running_header(text: str, title: str | None) -> str:
    """The document number (a short first line) if there is one, else the title, cut to fit the header line."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    header = first if len(first) <= 30 else (title or first)
    return header if len(header) <= 40 else header[:39] + "…"


def _scan(page: list[tuple[float, float, str]], header: str, number: int, dpi: int = 100) -> Image.Image:
    """A page as a scanner sees it: a greyscale picture of the printed text, no characters."""
    scale = dpi / 72
    image = Image.new("L", (round(PAGE_WIDTH * scale), round(PAGE_HEIGHT * scale)), 255)
    draw = ImageDraw.Draw(image)
    body = ImageFont.truetype(str(NOTO_SANS_CJK), round(FONT_SIZE * scale), index=SC_SUBFONT)
    small = ImageFont.truetype(str(NOTO_SANS_CJK), round(HEADER_SIZE * scale), index=SC_SUBFONT)
    draw.text((MARGIN * scale, 40 * scale), header, font=small, fill=0)
    for indent, depth, line in page:
        draw.text(((MARGIN + indent) * scale, (MARGIN + depth) * scale), line, font=body, fill=0)
    draw.text((PAGE_WIDTH / 2 * scale, (PAGE_HEIGHT - 48) * scale), f"- {number} -", font=small, fill=0, anchor="ma")
    return image


def write_pdf(
    path: Path,
    text: str,
    title: str | None = None,
    *,
    scanned: bool = False,
    encrypted: bool = False,
    user_password: str = "secret",
    embed_font: bool = True,
    style: ParagraphStyle = "indent",
) -> None:
    """Write `text` (one paragraph per line) as an A4 PDF with an embedded Noto CJK font.

    Every page has a running header (the document number, else the title) and a `- n -` footer.
    `title` goes into the PDF's /Title (None leaves reportlab's "untitled"). `scanned=True` puts
    only a picture of each page in the file (no text layer); `encrypted=True` encrypts it with
    `user_password` (an empty one opens without a password, as owner-only protection does).
    `embed_font=False` sets the text in Adobe's STSong-Light instead, a CID font the PDF names but does
    not embed (the reader substitutes a local Song face), as many Chinese government PDFs do.
    `style` marks where paragraphs start (see `layout`).
    """
    if embed_font:
        font = prepare_font([text, title or ""])
    else:
        font = "STSong-Light"
        if font not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(UnicodeCIDFont(font))
    encrypt = StandardEncryption(user_password, ownerPassword="owner-secret", strength=128) if encrypted else None
    canvas = Canvas(str(path), pagesize=A4, encrypt=encrypt, invariant=True)
    if title is not None:
        canvas.setTitle(title)
    header = running_header(text, title)
    for number, page in enumerate(layout(text, font, style), start=1):
        if scanned:
            canvas.drawImage(ImageReader(_scan(page, header, number)), 0, 0, PAGE_WIDTH, PAGE_HEIGHT)
        else:
            canvas.setFont(font, HEADER_SIZE)
            canvas.drawString(MARGIN, PAGE_HEIGHT - 40 - HEADER_SIZE, header)
            canvas.line(MARGIN, PAGE_HEIGHT - 54, PAGE_WIDTH - MARGIN, PAGE_HEIGHT - 54)
            canvas.setFont(font, FONT_SIZE)
            for indent, depth, line in page:
                canvas.drawString(MARGIN + indent, PAGE_HEIGHT - MARGIN - FONT_SIZE - depth, line)
            canvas.setFont(font, HEADER_SIZE)
            canvas.drawCentredString(PAGE_WIDTH / 2, 48, f"- {number} -")
        canvas.showPage()
    canvas.save()
