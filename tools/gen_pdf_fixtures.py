#!/usr/bin/env python3
"""Builds text PDFs of the seed reports (and one PDF without a text layer).

The PDFs use the Adobe CJK font STSong-Light (no font file needed; the text is encoded with
UniGB-UCS2-H, as many government PDFs are) and the official tables with merged cells (SPAN), the
values from the hand-checked golden files, the narrative from the seeds. The parser must read the
same tables from them as from the text seeds.

Usage: pip install reportlab && python3 tools/gen_pdf_fixtures.py
       (writes tests/fixtures/generated/*.pdf)
"""

import json
import pathlib
import sys

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from gen_fixtures import GOLDEN, OUT, SEEDS, narrative, table2, table3, table4  # noqa: E402

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
TEXT = ParagraphStyle("text", fontName=FONT, fontSize=9, leading=12)


def grid(rows):
    """Origin cells → a full grid (spanned slots empty) and the SPAN commands."""
    table, spans, taken = [], [], set()
    for r, row in enumerate(rows):
        line, col = [], 0
        for text, rs, cs in row:
            while (r, col) in taken:
                line.append("")
                col += 1
            line.append(text)
            line.extend([""] * (cs - 1))
            for rr in range(r, r + rs):
                for cc in range(col, col + cs):
                    taken.add((rr, cc))
            if rs > 1 or cs > 1:
                spans.append(("SPAN", (col, r), (col + cs - 1, r + rs - 1)))
            col += cs
        table.append(line)
    width = max(len(line) for line in table)
    table = [line + [""] * (width - len(line)) for line in table]
    return table, spans


def pdf_table(rows, first_width):
    data, spans = grid(rows)
    width = len(data[0])
    widths = [first_width] + [(760 - first_width) / (width - 1)] * (width - 1)
    t = Table(data, colWidths=widths)
    t.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), FONT, 7), ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                           ("VALIGN", (0, 0), (-1, -1), "TOP")] + spans))
    return t


def build(seed, golden, target):
    before, after = narrative(seed.read_text(encoding="utf-8"))
    title = f"{golden['organization']}{golden['year']}年政府信息公开工作年度报告"
    p = lambda s: Paragraph(s.replace("&", "&amp;").replace("<", "&lt;"), TEXT)
    story = [p(title), Spacer(1, 6), *[p(s) for s in before],
             p("二、主动公开政府信息情况"), pdf_table(table2(golden), 200),
             p("三、收到和处理政府信息公开申请情况"), pdf_table(flatten_t3(table3(golden)), 330),
             p("四、政府信息公开行政复议、行政诉讼情况"), pdf_table(table4(golden), 50),
             *[p(s) for s in after]]
    doc = SimpleDocTemplate(str(target), pagesize=landscape(A4), leftMargin=30, rightMargin=30,
                            topMargin=30, bottomMargin=30, invariant=1)
    doc.build(story)


def flatten_t3(rows):
    """Table 3 with its label columns merged into one wide column, so that no label wraps."""
    out = []
    for row in rows:
        labels = [c for c in row if c[0] and not c[0].lstrip("-").isdigit() and c[2] >= 1]
        values = row[len(row) - 7:] if len(row) >= 7 and all(
            c[0] == "" or c[0].isdigit() for c in row[len(row) - 7:]) else None
        if values is None:
            out.append(row)
            continue
        label = " ".join(c[0] for c in row[: len(row) - 7])
        out.append([(label, 1, 1)] + values)
    # the header rows keep their spans but must start with one label column
    header = [[("（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）", 3, 1), ("申请人情况", 1, 7)],
              [("自然人", 2, 1), ("法人或其他组织", 1, 5), ("总计", 2, 1)],
              [(x, 1, 1) for x in ["商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他"]]]
    return header + out[3:]


def no_text_layer(target):
    c = canvas.Canvas(str(target), pagesize=A4, invariant=1)
    c.setFillColor(colors.grey)
    c.rect(100, 400, 300, 200, fill=1)  # a "scanned" page: pixels, no text
    c.showPage()
    c.save()


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for seed in sorted(SEEDS.glob("*.txt")):
        golden = json.loads((GOLDEN / f"{seed.stem}.json").read_text(encoding="utf-8"))
        target = OUT / f"{seed.stem}.pdf"
        build(seed, golden, target)
        print(f"wrote {target}")
    no_text_layer(OUT / "scanned-no-text.pdf")
    print(f"wrote {OUT / 'scanned-no-text.pdf'}")


if __name__ == "__main__":
    main()
