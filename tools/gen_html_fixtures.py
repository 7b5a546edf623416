#!/usr/bin/env python3
"""Builds HTML versions of the seed reports, as a government portal would publish them.

Each page is GBK-encoded with a `<meta charset>`, wrapped in site navigation and a footer, and
holds the three statistics tables with the merged cells of the official template (rowspan and
colspan as in 国办公开办函〔2019〕60号 / 〔2021〕30号). The table values come from the hand-checked
golden files (tests/fixtures/golden/*.json); the narrative comes from the seed text. The parser
must read the same tables from these pages as from the text seeds.

Usage: python3 tools/gen_html_fixtures.py   (writes tests/fixtures/generated/*.html)
Standard library only.
"""

import html
import json
import pathlib
import re

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
    t = golden["table3"]
    out = ['<table border="1" cellspacing="0">',
           "<tr>" + td("（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）", 3, 3) + td("申请人情况", 1, 7) + "</tr>",
           "<tr>" + td("自然人", 2) + td("法人或其他组织", 1, 5) + td("总计", 2) + "</tr>",
           "<tr>" + "".join(td(x) for x in ["商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他"]) + "</tr>"]
    for key, labels in t3_rows(golden["template"]):
        cells = "".join(td(text, rs, cs) for text, rs, cs in labels)
        cells += "".join(td(value(t[key][c])) for c in COLS)
        out.append(f"<tr>{cells}</tr>")
    out.append("</table>")
    return "\n".join(out)


def table4(golden):
    t = golden["table4"]
    heads = ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"]
    out = ['<table border="1" cellspacing="0">',
           "<tr>" + td("行政复议", 1, 5) + td("行政诉讼", 1, 10) + "</tr>",
           "<tr>" + "".join(td(h, 2) for h in heads) + td("未经复议直接起诉", 1, 5) + td("复议后起诉", 1, 5) + "</tr>",
           "<tr>" + "".join(td(h) for h in heads * 2) + "</tr>",
           "<tr>" + "".join(td(value(t[g][c])) for g in T4_GROUPS for c in T4_COLS) + "</tr>",
           "</table>"]
    return "\n".join(out)


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
    out = ['<table border="1" cellspacing="0">']
    for title, heads, rows in blocks:
        out.append("<tr>" + td(title, 1, 4) + "</tr>")
        out.append("<tr>" + td("信息内容") + "".join(td(h) for h in heads) + "</tr>")
        for label, key, cols in rows:
            cells = []
            for c in cols:
                v = t.get(key, {}).get(c)
                cells.append(td(value(v) + ("元" if c == "amount_yuan" and v is not None else "")))
            out.append("<tr>" + td(label) + "".join(cells) + "</tr>")
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
        p("二、主动公开政府信息情况"), table2(golden),
        p("三、收到和处理政府信息公开申请情况"), table3(golden),
        p("四、政府信息公开行政复议、行政诉讼情况"), table4(golden),
        *[p(s) for s in after],
        "</div>",
        '<div class="footer"><p>主办单位：某某市人民政府办公室 网站标识码：0000000000</p><p>ICP备00000000号</p></div>',
    ]
    return ("<!DOCTYPE html>\n<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=gbk\">"
            f"<title>{html.escape(title)}</title><script>var nav = '首页';</script>"
            "<style>.top-nav{color:#333}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for seed in sorted(SEEDS.glob("*.txt")):
        golden = json.loads((GOLDEN / f"{seed.stem}.json").read_text(encoding="utf-8"))
        data = page(seed, golden).encode("gbk", errors="xmlcharrefreplace")
        target = OUT / f"{seed.stem}.gbk.html"
        target.write_bytes(data)
        print(f"wrote {target.relative_to(ROOT)} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
