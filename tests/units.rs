//! Who has reported: a register of 30 units imported from CSV and from a workbook, the real
//! fixtures and generated reports dropped into the daemon, each unit received, late or
//! missing for a year, reports no unit matches assigned by hand, and a bad register refused
//! with its row named while the old one stays.

mod common;

use std::process::Output;
use std::time::Duration;

use common::{real_fixtures, seed, wait_for, Daemon, RULE_ALWAYS};
use serde_json::Value;

fn ogi(d: &Daemon, args: &[&str]) -> Output {
    d.cli(args)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The register: the real fixtures' issuers (some under the names an office keeps, reached by
/// alias or normalised name), and a county with its departments and towns, most of which have
/// not reported.
fn register() -> Vec<[String; 5]> {
    let mut rows: Vec<[&str; 5]> = vec![
        [
            "淮安经济技术开发区党政办公室",
            "经开区党政办",
            "部门",
            "",
            "jkq@example.org",
        ],
        ["淮南市政府办公室", "", "部门", "", "huainan@example.org"],
        ["烟台市人民政府", "", "政府", "", ""],
        ["宁国市西津街道办事处", "", "政府", "", ""],
        ["井陉矿区人民政府", "", "government", "", ""],
        ["上海市人民政府办公厅", "", "department", "", ""],
        ["平潭综合实验区", "平潭综合实验区管委会", "政府", "", ""],
        [
            "沭阳县发展和改革局",
            "沭阳县发改局",
            "部门",
            "沭阳县人民政府",
            "",
        ],
        ["上海市科学技术委员会", "上海市科委；市科委", "部门", "", ""],
        ["沭阳县人民政府", "沐阳县人民政府", "政府", "", ""],
        ["淮安市人民政府", "", "政府", "", ""],
        ["清河县人民政府", "", "政府", "", "qinghe@example.org"],
    ];
    let departments = [
        "教育局",
        "财政局",
        "水利局",
        "公安局",
        "民政局",
        "司法局",
        "人力资源和社会保障局",
        "自然资源局",
        "生态环境局",
        "住房和城乡建设局",
        "交通运输局",
        "农业农村局",
        "商务局",
        "文化广电和旅游局",
        "卫生健康委员会",
        "应急管理局",
        "审计局",
        "统计局",
    ];
    let names: Vec<String> = departments.iter().map(|d| format!("清河县{d}")).collect();
    for n in &names {
        rows.push([n.as_str(), "", "部门", "清河县人民政府", ""]);
    }
    assert_eq!(rows.len(), 30);
    rows.into_iter().map(|r| r.map(str::to_string)).collect()
}

fn csv(rows: &[[String; 5]]) -> String {
    let mut out = String::from("名称,别名,类型,上级,邮箱\n");
    for r in rows {
        let quoted: Vec<String> = r
            .iter()
            .map(|f| {
                if f.contains([',', '"']) {
                    format!("\"{}\"", f.replace('"', "\"\""))
                } else {
                    f.clone()
                }
            })
            .collect();
        out.push_str(&quoted.join(","));
        out.push('\n');
    }
    out
}

/// Seed 000 as another unit's report of `year`, with a publication date when given.
fn generated(unit: &str, year: i32, published: Option<&str>) -> String {
    let text = std::fs::read_to_string(seed("000"))
        .expect("seed")
        .replace("2020", &year.to_string())
        .replace("淮安经济技术开发区党政办公室", unit);
    match published {
        Some(p) => format!("发布日期：{p}\n{text}"),
        None => text,
    }
}

fn status(d: &Daemon, year: i32) -> (Value, Output) {
    let out = ogi(
        d,
        &[
            "units",
            "status",
            "--year",
            &year.to_string(),
            "--format",
            "json",
        ],
    );
    let v: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    (v, out)
}

fn of<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["units"]
        .as_array()
        .expect("units")
        .iter()
        .find(|u| u["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {v}"))
}

#[test]
fn coverage_of_a_register_of_thirty_units() {
    let mut d = Daemon::start_with(
        &[("always.rhai", RULE_ALWAYS)],
        "[web]\nlisten = \"127.0.0.1:0\"\n",
    );
    let rows = register();
    std::fs::write(d.path("register.csv"), csv(&rows)).expect("csv");
    let reg = d.path("register.csv").to_string_lossy().into_owned();
    let out = ogi(&d, &["units", "import", &reg]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("30 units imported"));

    let mut dropped = 0;
    for f in real_fixtures() {
        d.drop_file(&f, &f.file_name().expect("name").to_string_lossy());
        dropped += 1;
    }
    for (name, body) in [
        ("qh-edu.txt", generated("清河县教育局", 2026, None)),
        (
            "qh-fin.txt",
            generated("清河县财政局", 2026, Some("2027-02-20")),
        ),
        ("qh-gov-1.txt", generated("清河县人民政府", 2026, None)),
        (
            "qh-gov-2.txt",
            generated("清河县人民政府", 2026, None).replace("230条", "231条"),
        ),
        ("unknown.txt", generated("清河县档案馆", 2026, None)),
    ] {
        d.drop_bytes(std::ffi::OsStr::new(name), body.as_bytes());
        dropped += 1;
    }
    wait_for(Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM reports") == dropped
    });

    // 2026: three of the county's units have reported, one after its deadline (published
    // 2027-02-20, a department's is due 2027-01-31); the government sent two versions.
    let (v, out) = status(&d, 2026);
    assert_eq!(out.status.code(), Some(1), "missing units: exit 1");
    assert_eq!(of(&v, "清河县教育局")["status"], "received");
    assert_eq!(of(&v, "清河县教育局")["due"], "2027-01-31");
    assert_eq!(of(&v, "清河县财政局")["status"], "late");
    assert!(of(&v, "清河县财政局")["late_by"]
        .as_str()
        .is_some_and(|l| l.contains("2027-02-20")));
    let gov = of(&v, "清河县人民政府");
    assert_eq!(
        (gov["status"].as_str(), gov["versions"].as_u64()),
        (Some("received"), Some(2))
    );
    assert_eq!(gov["due"], "2027-03-31");
    let missing = v["units"]
        .as_array()
        .expect("units")
        .iter()
        .filter(|u| u["status"] == "missing")
        .count();
    assert_eq!(missing, 27);
    // 清河县档案馆 is in no register: listed for an administrator.
    let unmatched = v["unmatched"].as_array().expect("unmatched");
    assert_eq!(unmatched.len(), 1);
    assert_eq!(unmatched[0]["organization"], "清河县档案馆");

    // Older years: the fixtures, matched by name, alias and normalised name, all received
    // long after their deadlines (they reach this store in 2026).
    let (v, _) = status(&d, 2019);
    for name in [
        "淮南市政府办公室",
        "宁国市西津街道办事处",
        "上海市人民政府办公厅",
    ] {
        assert_eq!(of(&v, name)["status"], "late", "{name}: {v}");
    }
    let (v, _) = status(&d, 2024);
    for name in ["上海市科学技术委员会", "淮安市人民政府"] {
        assert_eq!(of(&v, name)["status"], "late", "{name}");
    }
    let (v, _) = status(&d, 2023);
    for name in ["沭阳县发展和改革局", "井陉矿区人民政府"] {
        assert_eq!(of(&v, name)["status"], "late", "{name}");
    }

    // The console's page says the same, with the parent's missing children.
    let addr: std::net::SocketAddr = d
        .log()
        .lines()
        .find_map(|l| {
            l.split("web console on http://")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .expect("console address");
    let mut web = common::http::Client::new(addr);
    let page = web.get("/units?year=2026");
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    assert!(
        html.contains("data-count=\"received\">2<")
            && html.contains("data-count=\"late\">1<")
            && html.contains("data-count=\"missing\">27<"),
        "{html}"
    );
    assert!(html.contains("data-unit=\"清河县财政局\" data-status=\"late\""));
    assert!(html.contains("id=\"missing-children\"") && html.contains("清河县公安局"));
    assert!(html.contains("id=\"unmatched\"") && html.contains("清河县档案馆"));

    // The register edited in the console: shown as CSV, a bad row refused with its number and
    // nothing changed, a form without its token refused, an added unit saved.
    let editor = web.get("/units/register").text();
    assert!(
        editor.contains("清河县统计局,,部门,清河县人民政府,"),
        "{editor}"
    );
    let token = web.csrf("/units/register");
    let current = csv(&rows);
    let broken = current.replace("清河县审计局,,部门", "清河县审计局,,机关");
    let r = web.post("/units/register", &[("csrf", &token), ("csv", &broken)]);
    assert_eq!(r.status, 400);
    assert!(
        r.text().contains("row 30") && r.text().contains("机关"),
        "{}",
        r.text()
    );
    assert!(text(&ogi(&d, &["units", "list"])).contains("30 units"));
    let added = format!("{current}清河县档案馆,,部门,清河县人民政府,\n");
    assert_eq!(
        web.post("/units/register", &[("csv", &added)]).status,
        403,
        "no token"
    );
    assert_eq!(
        web.post("/units/register", &[("csrf", &token), ("csv", &added)])
            .status,
        303
    );
    assert!(text(&ogi(&d, &["units", "list"])).contains("31 units"));
    let (v, _) = status(&d, 2026);
    assert_eq!(
        of(&v, "清河县档案馆")["status"],
        "received",
        "its report now matches"
    );
    std::fs::write(d.path("register.csv"), csv(&rows)).expect("csv");
    assert!(ogi(&d, &["units", "import", &reg]).status.success());

    // The unmatched report assigned by hand: kept, and counted for that unit.
    let id = unmatched[0]["report_id"].as_i64().expect("id").to_string();
    let out = ogi(&d, &["units", "assign", &id, "清河县水利局"]);
    assert!(out.status.success(), "{}", text(&out));
    let (v, _) = status(&d, 2026);
    assert_eq!(of(&v, "清河县水利局")["status"], "received");
    assert!(v["unmatched"].as_array().expect("unmatched").is_empty());

    // A register with a bad row is refused, naming the row; the old one stays, assignment too.
    let mut bad = rows.clone();
    bad[5][2] = "机关".into();
    std::fs::write(d.path("bad.csv"), csv(&bad)).expect("csv");
    let out = ogi(
        &d,
        &["units", "import", &d.path("bad.csv").to_string_lossy()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("row 7") && text(&out).contains("机关"),
        "{}",
        text(&out)
    );
    let mut orphan = rows.clone();
    orphan[20][3] = "不存在的县人民政府".into();
    std::fs::write(d.path("orphan.csv"), csv(&orphan)).expect("csv");
    let out = ogi(
        &d,
        &["units", "import", &d.path("orphan.csv").to_string_lossy()],
    );
    assert!(
        text(&out).contains("row 22") && text(&out).contains("不存在的县人民政府"),
        "{}",
        text(&out)
    );
    let list = ogi(&d, &["units", "list"]);
    assert!(text(&list).contains("30 units"), "{}", text(&list));

    // The same register as a workbook, with English headers.
    let path = d.path("register.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["name", "aliases", "kind", "parent", "email"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *h).expect("header");
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, f) in row.iter().enumerate() {
            ws.write_string(r as u32 + 1, c as u16, f).expect("cell");
        }
    }
    wb.save(&path).expect("xlsx");
    let out = ogi(&d, &["units", "import", &path.to_string_lossy()]);
    assert!(text(&out).contains("30 units imported"), "{}", text(&out));
    let listed: Value =
        serde_json::from_slice(&ogi(&d, &["units", "list", "--format", "json"]).stdout)
            .expect("json");
    let edu = listed
        .as_array()
        .expect("units")
        .iter()
        .find(|u| u["name"] == "上海市科学技术委员会")
        .expect("unit");
    assert_eq!(edu["aliases"], serde_json::json!(["上海市科委", "市科委"]));
    // The assignment survived the new register (the unit kept its name).
    let (v, _) = status(&d, 2026);
    assert_eq!(of(&v, "清河县水利局")["status"], "received");
    d.kill();
}
