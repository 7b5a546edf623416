#!/usr/bin/env python3
"""Builds HTML and DOCX versions of the seed reports, as offices publish them.

Each HTML page is GBK-encoded with a `<meta charset>`, wrapped in site navigation and a footer;
each DOCX is a Word document. Both hold the three statistics tables with the merged cells of the
official template (国办公开办函〔2019〕60号 / 〔2021〕30号): rowspan/colspan in HTML, vMerge/gridSpan
in Word. The table values come from the hand-checked golden files (tests/fixtures/golden/*.json);
the narrative comes from the seed text. The parser must read the same tables from these files as
from the text seeds.

Usage: python3 tools/gen_fixtures.py   (writes tests/fixtures/generated/*.gbk.html and *.docx)
Standard library only.
"""

import html
import io
import json
import pathlib
import re
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEEDS = ROOT / "tests" / "fixtures" / "seeds"
GOLDEN = ROOT / "tests" / "fixtures" / "golden"
OUT = ROOT / "tests" / "fixtures" / "generated"

COLS = ["natural_person", "commercial", "research", "social_welfare", "legal_service", "other_org", "total"]
T4_GROUPS = ["review", "lawsuit_direct", "lawsuit_after_review"]
T4_COLS = ["upheld", "corrected", "other", "pending", "total"]

# (row key, label cells): a label cell is (text, rowspan, colspan); rows whose group cell was
# opened by an earlier row's rowspan list only their own cells.
def t3_rows(template):
    rows = [
        ("new_received", [("一、本年新收政府信息公开申请数量", 1, 3)]),
        ("carried_over", [("二、上年结转政府信息公开申请数量", 1, 3)]),
    ]
    results = 22 if template == "2019" else 24
    rows += [
        ("granted", [("三、本年度办理结果", results, 1), ("（一）予以公开", 1, 2)]),
        ("partial", [("（二）部分公开（区分处理的，只计这一情形，不计其他情形）", 1, 2)]),
    ]
    denied = ["1.属于国家秘密", "2.其他法律行政法规禁止公开", "3.危及“三安全一稳定”", "4.保护第三方合法权益",
              "5.属于三类内部事务信息", "6.属于四类过程性信息", "7.属于行政执法案卷", "8.属于行政查询事项"]
    keys = ["denied_state_secret", "denied_law_prohibited", "denied_three_safety", "denied_third_party",
            "denied_internal", "denied_process", "denied_enforcement_file", "denied_admin_query"]
    for i, (k, label) in enumerate(zip(keys, denied)):
        cells = [("（三）不予公开", 8, 1)] if i == 0 else []
        rows.append((k, cells + [(label, 1, 1)]))
    unable = [("unable_not_held", "1.本机关不掌握相关政府信息"), ("unable_needs_creation", "2.没有现成信息需要另行制作"),
              ("unable_unclear", "3.补正后申请内容仍不明确")]
    for i, (k, label) in enumerate(unable):
        rows.append((k, ([("（四）无法提供", 3, 1)] if i == 0 else []) + [(label, 1, 1)]))
    rejected = [("rejected_petition", "1.信访举报投诉类申请"), ("rejected_duplicate", "2.重复申请"),
                ("rejected_publication", "3.要求提供公开出版物"), ("rejected_excessive", "4.无正当理由大量反复申请"),
                ("rejected_confirmation", "5.要求行政机关确认或重新出具已获取信息")]
    for i, (k, label) in enumerate(rejected):
        rows.append((k, ([("（五）不予处理", 5, 1)] if i == 0 else []) + [(label, 1, 1)]))
    if template == "2019":
        rows.append(("other", [("（六）其他处理", 1, 2)]))
    else:
        other = [("other_no_correction", "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请"),
                 ("other_no_fee", "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请"),
                 ("other_misc", "3.其他")]
        for i, (k, label) in enumerate(other):
            rows.append((k, ([("（六）其他处理", 3, 1)] if i == 0 else []) + [(label, 1, 1)]))
    rows.append(("total_processed", [("（七）总计", 1, 2)]))
    rows.append(("carried_forward", [("四、结转下年度继续办理", 1, 3)]))
    return rows


def td_cell(cell):
    text, rowspan, colspan = cell
    return td(text, rowspan, colspan)


def td(text, rowspan=1, colspan=1):
    attrs = ""
    if rowspan > 1:
        attrs += f' rowspan="{rowspan}"'
    if colspan > 1:
        attrs += f' colspan="{colspan}"'
    # Word-style markup: the text inside paragraphs and spans, a blank cell as &nbsp;.
    inner = html.escape(text) if text != "" else "&nbsp;"
    return f'<td{attrs}><p align="center"><span style="font-size:10pt">{inner}</span></p></td>'


def value(v):
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v)


def table3(golden):
    """Table 3 as rows of origin cells (text, rowspan, colspan)."""
    t = golden["table3"]
    rows = [[("（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）", 3, 3), ("申请人情况", 1, 7)],
            [("自然人", 2, 1), ("法人或其他组织", 1, 5), ("总计", 2, 1)],
            [(x, 1, 1) for x in ["商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他"]]]
    for key, labels in t3_rows(golden["template"]):
        rows.append(list(labels) + [(value(t[key][c]), 1, 1) for c in COLS])
    return rows


def table4(golden):
    t = golden["table4"]
    heads = ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"]
    return [[("行政复议", 1, 5), ("行政诉讼", 1, 10)],
            [(h, 2, 1) for h in heads] + [("未经复议直接起诉", 1, 5), ("复议后起诉", 1, 5)],
            [(h, 1, 1) for h in heads * 2],
            [(value(t[g][c]), 1, 1) for g in T4_GROUPS for c in T4_COLS]]


def table2(golden):
    t = golden["table2"]
    if golden["template"] == "2019":
        blocks = [("第二十条第（一）项", ["本年新制作数量", "本年新公开数量", "对外公开总数量"],
                   [("规章", "rules", ["new_made", "new_published", "total_published"]),
                    ("规范性文件", "normative_docs", ["new_made", "new_published", "total_published"])]),
                  ("第二十条第（五）项", ["上一年项目数量", "本年增/减", "处理决定数量"],
                   [("行政许可", "licensing", ["prev_items", "delta", "decisions"]),
                    ("其他对外管理服务事项", "other_services", ["prev_items", "delta", "decisions"])]),
                  ("第二十条第（六）项", ["上一年项目数量", "本年增/减", "处理决定数量"],
                   [("行政处罚", "penalty", ["prev_items", "delta", "decisions"]),
                    ("行政强制", "enforcement", ["prev_items", "delta", "decisions"])]),
                  ("第二十条第（八）项", ["上一年项目数量", "本年增/减"],
                   [("行政事业性收费", "fees", ["prev_items", "delta"])]),
                  ("第二十条第（九）项", ["采购项目数量", "采购总金额"],
                   [("政府集中采购", "procurement", ["items", "amount_yuan"])])]
    else:
        blocks = [("第二十条第（一）项", ["本年制发件数", "本年废止件数", "现行有效件数"],
                   [("规章", "rules", ["issued", "repealed", "in_force"]),
                    ("行政规范性文件", "normative_docs", ["issued", "repealed", "in_force"])]),
                  ("第二十条第（五）项", ["本年处理决定数量"], [("行政许可", "licensing", ["decisions"])]),
                  ("第二十条第（六）项", ["本年处理决定数量"],
                   [("行政处罚", "penalty", ["decisions"]), ("行政强制", "enforcement", ["decisions"])]),
                  ("第二十条第（八）项", ["本年收费金额（单位：万元）"], [("行政事业性收费", "fees", ["amount_wan"])])]
    rows = []
    for title, heads, block in blocks:
        rows.append([(title, 1, 4)])
        rows.append([("信息内容", 1, 1)] + [(h, 1, 1) for h in heads])
        for label, key, cols in block:
            cells = [(label, 1, 1)]
            for c in cols:
                v = t.get(key, {}).get(c)
                cells.append((value(v) + ("元" if c == "amount_yuan" and v is not None else ""), 1, 1))
            rows.append(cells)
    return rows


def html_table(rows):
    out = ['<table border="1" cellspacing="0">']
    for row in rows:
        out.append("<tr>" + "".join(td_cell(c) for c in row) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


HEADINGS = re.compile(r"^\s*(?:[一二三四五六]、|—、)?\s*(二、主动公开|三、收到和处理|四、政府信息公开行政|五、|存在的主要问题|六、其他需要报告)")


def narrative(seed_text):
    """The seed's text without its flattened tables: before section 二, and from section 五 on."""
    lines = seed_text.replace("\r\n", "\n").split("\n")
    before, after, state = [], [], "before"
    for line in lines:
        s = line.strip()
        if state == "before" and re.match(r"^(二、主动公开|二、主動公開)", s):
            state = "tables"
            continue
        if state == "tables" and re.match(r"^(五、|存在的主要问题|五、 存在)", s):
            state = "after"
        if state == "before":
            before.append(s)
        elif state == "after":
            after.append(s)
    return [l for l in before if l], [l for l in after if l and "|" not in l]


def page(seed_path, golden):
    text = seed_path.read_text(encoding="utf-8")
    before, after = narrative(text)
    title = f"{golden['organization']}{golden['year']}年政府信息公开工作年度报告"
    p = lambda s: f"<p>{html.escape(s)}</p>"
    body = [
        '<div class="top-nav"><a href="/">首页</a> | <a href="/zwgk/">政务公开</a> | <a href="/hdjl/">互动交流</a> | <a href="/bsfw/">办事服务</a></div>',
        '<div class="crumb">当前位置：首页 &gt; 政务公开 &gt; 政府信息公开年报</div>',
        f"<h1>{html.escape(title)}</h1>",
        '<div class="article">',
        *[p(s) for s in before],
        p("二、主动公开政府信息情况"), html_table(table2(golden)),
        p("三、收到和处理政府信息公开申请情况"), html_table(table3(golden)),
        p("四、政府信息公开行政复议、行政诉讼情况"), html_table(table4(golden)),
        *[p(s) for s in after],
        "</div>",
        '<div class="footer"><p>主办单位：某某市人民政府办公室 网站标识码：0000000000</p><p>ICP备00000000号</p></div>',
    ]
    return ("<!DOCTYPE html>\n<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=gbk\">"
            f"<title>{html.escape(title)}</title><script>var nav = '首页';</script>"
            "<style>.top-nav{color:#333}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n")


W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def w_para(text):
    if not text:
        return "<w:p/>"
    # Word splits runs; two runs per paragraph keep the reader honest.
    half = len(text) // 2
    runs = "".join(f'<w:r><w:t xml:space="preserve">{html.escape(part, quote=False)}</w:t></w:r>'
                   for part in (text[:half], text[half:]) if part)
    return f"<w:p>{runs}</w:p>"


def w_table(rows):
    """Origin cells → Word rows, with vMerge continuation cells where a rowspan goes on."""
    out = ["<w:tbl>"]
    pending = {}  # column → [rows left, colspan]
    for row in rows:
        cells, col, queue = [], 0, list(row)
        while queue or any(c >= col for c in pending):
            if col in pending:
                left, cs = pending[col]
                cells.append(f'<w:tc><w:tcPr>{grid_span(cs)}<w:vMerge/></w:tcPr><w:p/></w:tc>')
                if left <= 1:
                    del pending[col]
                else:
                    pending[col] = [left - 1, cs]
                col += cs
                continue
            if not queue:
                break
            text, rs, cs = queue.pop(0)
            merge = '<w:vMerge w:val="restart"/>' if rs > 1 else ""
            cells.append(f"<w:tc><w:tcPr>{grid_span(cs)}{merge}</w:tcPr>{w_para(text)}</w:tc>")
            if rs > 1:
                pending[col] = [rs - 1, cs]
            col += cs
        out.append("<w:tr>" + "".join(cells) + "</w:tr>")
    out.append("</w:tbl>")
    return "".join(out)


def grid_span(cs):
    return f'<w:gridSpan w:val="{cs}"/>' if cs > 1 else ""


def docx(seed_path, golden):
    before, after = narrative(seed_path.read_text(encoding="utf-8"))
    title = f"{golden['organization']}{golden['year']}年政府信息公开工作年度报告"
    body = [w_para(title), *[w_para(s) for s in before],
            w_para("二、主动公开政府信息情况"), w_table(table2(golden)),
            w_para("三、收到和处理政府信息公开申请情况"), w_table(table3(golden)),
            w_para("四、政府信息公开行政复议、行政诉讼情况"), w_table(table4(golden)),
            *[w_para(s) for s in after]]
    document = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w="{W}"><w:body>'
                + "".join(body) + "<w:sectPr/></w:body></w:document>")
    content_types = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                     '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                     '<Default Extension="xml" ContentType="application/xml"/>'
                     '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in [("[Content_Types].xml", content_types), ("_rels/.rels", rels), ("word/document.xml", document)]:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))  # reproducible bytes
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for seed in sorted(SEEDS.glob("*.txt")):
        golden = json.loads((GOLDEN / f"{seed.stem}.json").read_text(encoding="utf-8"))
        for target, data in [
            (OUT / f"{seed.stem}.gbk.html", page(seed, golden).encode("gbk", errors="xmlcharrefreplace")),
            (OUT / f"{seed.stem}.docx", docx(seed, golden)),
        ]:
            target.write_bytes(data)
            print(f"wrote {target.relative_to(ROOT)} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
