"""Open an OFD file with an independent reader (the easyofd package from PyPI), as a test would
with a desktop OFD reader: parse it, draw it to PDF, and report what a person would see.

Usage: python ofd_read.py FILE.ofd OUT_DIR
Prints, as its last line, JSON: {"pages": n, "texts": [...the text objects the reader found, in
order...], "boxes": [[x, y, w, h], ...]} and writes OUT_DIR/page-1.png (the first page drawn at
200 dpi, for a QR decoder). The text comes from the reader's own model of the page: drawing it
needs the SimSun font, which Linux machines do not have, so the rendered page shows the rules and
the QR code image only."""

import json
import os
import sys

from easyofd.draw.font_tools import FontTool
from easyofd.ofd import OFD
import fitz  # PyMuPDF, installed with easyofd

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont

# easyofd draws every character in a font named 宋体 (SimSun), which Linux machines lack; without
# it reportlab searches the disk for metrics on every character (minutes) and then draws nothing
# readable. Give it the standard song typeface every PDF reader knows, STSong-Light, under that
# name, and skip easyofd's scan of the system fonts, which only looks for SimSun.
_song = UnicodeCIDFont("STSong-Light")
_song.fontName = _song.name = "宋体"
pdfmetrics.registerFont(_song)
FontTool.get_installed_fonts = lambda self: []


def main() -> None:
    path, out = sys.argv[1], sys.argv[2]
    ofd = OFD()
    with open(path, "rb") as f:
        ofd.read(f.read(), fmt="binary")
    texts, boxes = [], []
    for document in ofd.data:
        for page in document["page_info"].values():
            for t in page.get("text_list", []):
                texts.append(t.get("text", ""))
                boxes.append(t.get("pos"))
    pdf = ofd.to_pdf()
    doc = fitz.open(stream=pdf, filetype="pdf")
    shown = "".join(page.get_text() for page in doc)
    if len(doc) > 0:
        pix = doc[0].get_pixmap(dpi=200, alpha=False)
        pix.save(os.path.join(out, "page-1.png"))
    print()
    print(json.dumps({"pages": len(doc), "texts": texts, "boxes": boxes, "shown": shown}, ensure_ascii=False))


if __name__ == "__main__":
    main()
