#!/usr/bin/env python3
"""Builds text PDFs of the seed reports (and one PDF without a text layer).

The PDFs use the Adobe CJK font STSong-Light (no font file needed; the text is encoded with
UniGB-UCS2-H, as many government PDFs are) and the official tables with merged cells (SPAN), the
values from the hand-checked golden files, the narrative from the seeds. The parser must read the
same tables from them as from the text seeds.

The "printed" variants (`*.<class>.pdf`) lay table 3 out as official PDFs print it, one class
of difficulty each, on A4 portrait pages like the real reports:
- `headers`: narrow number columns, so the header cells wrap over two or three lines, centred
  over their column and in the middle of their row (自然人 and 总计 a line off 商业企业);
- `labels`: the official three label columns, narrow, so the labels wrap over several lines
  with the numbers in the middle of their row;
- `pagebreak`: table 3 starts low on a page and runs onto the next, whose top repeats the
  header rows; every page has a footer `— N —`.
- `blanks`: the `headers` layout with the five organisation columns of table 3 left blank
  wherever the seed has 0, as many offices print them; a blank cell is unread, not 0, so its
  expected values (`tests/fixtures/golden/<seed>.blanks.json`) are the seed's with those cells
  null.
Their values, like the others', come from the seed's golden file.

Usage: pip install reportlab && python3 tools/gen_pdf_fixtures.py
       (writes tests/fixtures/generated/*.pdf)
"""

import json
import pathlib
import sys

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

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


CELL = ParagraphStyle("cell", fontName=FONT, fontSize=8, leading=11)
CENTRED = ParagraphStyle("centred", parent=CELL, alignment=TA_CENTER)
# Page width less the margins of the printed variants.
PRINTED_WIDTH = A4[0] - 2 * 50


def printed_table(rows, widths, header_rows, repeat=False):
    """Rows of origin cells → a ruled table whose text cells wrap (Paragraphs); numbers centred,
    every cell in the middle of its row."""
    data, spans = grid(rows)
    cells = []
    for r, line in enumerate(data):
        out = []
        for text in line:
            if text == "":
                out.append("")
            elif r < header_rows:
                out.append(Paragraph(text, CENTRED))
            elif text.lstrip("-").replace(".", "", 1).isdigit():
                out.append(Paragraph(text, CENTRED))
            else:
                out.append(Paragraph(text, CELL))
        cells.append(out)
    t = Table(cells, colWidths=widths, repeatRows=header_rows if repeat else 0)
    t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                           ("VALIGN", (0, 0), (-1, -1), "MIDDLE")] + spans))
    return t


def t3_printed(golden):
    """Table 3's rows with the 三、本年度办理结果 cell spanning exactly its rows, (一) to (七)总计
    (`t3_rows` gives it two rows more, which HTML and Word tolerate and a PDF grid does not)."""
    rows = table3(golden)
    start = next(i for i, row in enumerate(rows) if row[0][0].startswith("三、本年度办理结果"))
    end = next(i for i, row in enumerate(rows) if row[0][0] == "（七）总计")
    text, _, colspan = rows[start][0]
    rows[start] = [(text, end - start + 1, colspan)] + rows[start][1:]
    return rows


def columns(rows):
    """The grid column each origin cell starts in."""
    taken, out = set(), []
    for r, row in enumerate(rows):
        col, line = 0, []
        for text, rs, cs in row:
            while (r, col) in taken:
                col += 1
            line.append(col)
            for rr in range(r, r + rs):
                for cc in range(col, col + cs):
                    taken.add((rr, cc))
            col += cs
        out.append(line)
    return out


def split_rows(rows, header_rows, at):
    """The rows cut before row `at` as a page break cuts a printed table: cells spanning the cut
    end there and go on below it with the rest of their text; the lower part repeats the header."""
    cols = columns(rows)
    upper = [list(row) for row in rows[:at]]
    carried = []
    for r in range(header_rows, at):
        for i, (text, rs, cs) in enumerate(rows[r]):
            if r + rs > at:
                above = at - r
                keep = len(text) * above // rs
                upper[r][i] = (text[:keep], above, cs)
                carried.append((cols[r][i], (text[keep:], rs - above, cs)))
    first = sorted(carried + list(zip(cols[at], rows[at])), key=lambda c: c[0])
    lower = rows[:header_rows] + [[cell for _, cell in first]] + rows[at + 1:]
    return upper, lower


def t3_widths(label_widths, number_width):
    return list(label_widths) + [number_width] * 7


# class → (label column widths, number column width, table 3 starts low on a page)
PRINTED = {
    # 商业企业 (four characters of 8 pt) does not fit in 30 pt: it wraps, the one-word cells do not.
    "headers": ((30, 70, PRINTED_WIDTH - 100 - 7 * 30), 30, False),
    # the labels get 24 + 46 + 90 pt: (六)1 wraps over four lines, （三）不予公开 over two.
    "labels": ((24, 46, 90), (PRINTED_WIDTH - 160) / 7, False),
    "pagebreak": ((30, 70, 170), (PRINTED_WIDTH - 270) / 7, True),
    "blanks": ((30, 70, PRINTED_WIDTH - 100 - 7 * 30), 30, False),
}
ORGANISATIONS = ["commercial", "research", "social_welfare", "legal_service", "other_org"]


def with_blanks(golden):
    """The seed's values with the organisation columns' zeros of table 3 blank (None)."""
    out = json.loads(json.dumps(golden))
    for cells in out["table3"].values():
        for col in ORGANISATIONS:
            if cells.get(col) == 0:
                cells[col] = None
    out["notes"] = ("Generated by tools/gen_pdf_fixtures.py (class blanks) from the seed's golden "
                    "file: table 3's organisation columns printed blank where the seed has 0.")
    return out


def footer(canvas_, doc):
    canvas_.saveState()
    canvas_.setFont(FONT, 10)
    canvas_.drawCentredString(A4[0] / 2, 30, f"— {doc.page} —")
    canvas_.restoreState()


def build_printed(seed, golden, target, kind):
    labels, number, low = PRINTED[kind]
    before, after = narrative(seed.read_text(encoding="utf-8"))
    title = f"{golden['organization']}{golden['year']}年政府信息公开工作年度报告"
    p = lambda s: Paragraph(s.replace("&", "&amp;").replace("<", "&lt;"), TEXT)
    t2_widths = [140] + [(PRINTED_WIDTH - 140) / 3] * 3
    story = [p(title), Spacer(1, 6), *[p(s) for s in before],
             p("二、主动公开政府信息情况"), printed_table(table2(golden), t2_widths, 0)]
    widths = t3_widths(labels, number)
    story.append(p("三、收到和处理政府信息公开申请情况"))
    if low:
        # Cut inside （四）无法提供, after its first row, as the official PDF is: the group cells
        # are cut in two, the next page repeats the three header rows under its own page top.
        rows = t3_printed(golden)
        at = next(i for i, row in enumerate(rows) if any(c[0].startswith("2.没有现成信息") for c in row))
        upper, lower = split_rows(rows, 3, at)
        story += [printed_table(upper, widths, 3), PageBreak(), printed_table(lower, widths, 3)]
    else:
        story.append(printed_table(t3_printed(golden), widths, 3))
    story += [p("四、政府信息公开行政复议、行政诉讼情况"),
              printed_table(table4(golden), [PRINTED_WIDTH / 15] * 15, 3),
              *[p(s) for s in after]]
    doc = SimpleDocTemplate(str(target), pagesize=A4, leftMargin=50, rightMargin=50,
                            topMargin=50, bottomMargin=60, invariant=1)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)


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
        for kind in PRINTED:
            target = OUT / f"{seed.stem}.{kind}.pdf"
            values = golden
            if kind == "blanks":
                values = with_blanks(golden)
                expected = GOLDEN / f"{seed.stem}.blanks.json"
                expected.write_text(json.dumps(values, ensure_ascii=False, indent=2) + "\n",
                                    encoding="utf-8")
                print(f"wrote {expected}")
            build_printed(seed, values, target, kind)
            print(f"wrote {target}")
    no_text_layer(OUT / "scanned-no-text.pdf")
    print(f"wrote {OUT / 'scanned-no-text.pdf'}")


if __name__ == "__main__":
    main()
