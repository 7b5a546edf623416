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
        &[
            ("always.rhai", RULE_ALWAYS),
            (
                "region-covers-units.rhai",
                include_str!("../rules/region-covers-units.rhai"),
            ),
        ],
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
        ("unknown.txt", generated("清河县档案馆", 2026, None)),
    ] {
        d.drop_bytes(std::ffi::OsStr::new(name), body.as_bytes());
        dropped += 1;
    }
    wait_for(Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM reports") == dropped
    });
    // The county's own report, after two of its departments': it speaks of the whole county's
    // applications (全县收到…120件) yet table 3 counts 58 new ones, fewer than the 58 + 58 of
    // its departments' reports.
    let county = generated("清河县人民政府", 2026, None).replacen(
        "年,经开区坚持",
        "年,全县收到政府信息公开申请120件。经开区坚持",
        1,
    );
    for (name, body) in [
        ("qh-gov-1.txt", county.clone()),
        ("qh-gov-2.txt", county.replace("230条", "231条")),
    ] {
        d.drop_bytes(std::ffi::OsStr::new(name), body.as_bytes());
        dropped += 1;
    }
    wait_for(Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM reports") == dropped
    });
    let region: Vec<String> = d
        .db()
        .prepare(
            "SELECT f.message FROM findings f JOIN reports r ON r.id = f.report_id
             WHERE f.rule = 'region-covers-units' AND r.organization = '清河县人民政府'",
        )
        .expect("sql")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(region.len(), 2, "both versions: {region:?}");
    assert!(
        region[0].contains("表三本年新收申请总计58件，少于名单中2个下级单位年度报告的合计116件"),
        "{region:?}"
    );
    let quiet = d.count(
        "SELECT COUNT(*) FROM findings f JOIN reports r ON r.id = f.report_id
         WHERE f.rule = 'region-covers-units' AND r.organization <> '清河县人民政府'",
    );
    assert_eq!(
        quiet, 0,
        "only a parent's report is compared with its units'"
    );

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
    // Without a year: the season under way, and every year of the store offered.
    let season = web.get("/units");
    assert_eq!(season.status, 200);
    assert!(
        season.text().contains("<option value=\"2026\">") && season.text().contains(" selected>"),
        "{}",
        season.text()
    );
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

/// A reminder as the SMTP server received it: who it went to, its subject and text.
#[derive(Debug, Clone)]
struct Mailed {
    to: Vec<String>,
    subject: String,
    text: String,
}

fn mailed(server: &common::smtp::SmtpServer) -> Vec<Mailed> {
    server
        .messages()
        .iter()
        .map(|raw| {
            let m = mail_parser::MessageParser::default()
                .parse(raw.as_bytes())
                .expect("message");
            Mailed {
                to: m
                    .to()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.address().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                subject: m.subject().unwrap_or_default().to_string(),
                text: m.body_text(0).unwrap_or_default().into_owned(),
            }
        })
        .collect()
}

fn to_count(all: &[Mailed], addr: &str) -> usize {
    all.iter()
        .filter(|m| m.to.iter().any(|t| t == addr))
        .count()
}

/// Restarts the daemon with its clock at `at` and waits until it has looked at the reminder
/// days (the first round runs as the mailer starts).
fn restart_at(d: &mut Daemon, at: &str) {
    if d.child.is_some() {
        d.terminate();
    }
    let before = d.log().matches("reminder days looked at").count()
        + d.log().matches("reminders written for today").count();
    d.clock = Some(at.to_string());
    d.spawn();
    wait_for(Duration::from_secs(30), || {
        d.log().matches("reminder days looked at").count()
            + d.log().matches("reminders written for today").count()
            > before
    });
}

#[test]
fn reminders_go_once_to_each_missing_unit_through_the_smtp_server() {
    let port = common::smtp::free_port();
    let smtp_dir = tempfile::tempdir().expect("smtp dir");
    let mut server = Some(common::smtp::SmtpServer::start(
        port,
        smtp_dir.path(),
        false,
    ));
    let route = "[[mail.routes]]\norganization = \"清河县审计局\"\nto = [\"route@qh.example\"]\n";
    let config = format!(
        "{}[reminders]\ndays = [-7, 0, 7]\noffice = [\"office@qh.example\"]\nutc_offset = \"+08:00\"\n",
        common::smtp::mail_config(port, route, "\"fallback@qh.example\"")
    );
    let mut d = Daemon::start_at(
        &[("always.rhai", RULE_ALWAYS)],
        &config,
        "2026-01-20T08:00:00+08:00",
    );
    // The county's departments with their own addresses, but 统计局 (no address, no route) and
    // 审计局 (reached through its mail route).
    let mut rows = register();
    let addr = |dept: &str| {
        let i = register()
            .iter()
            .position(|r| r[0] == format!("清河县{dept}"))
            .expect("department");
        format!("unit{i}@qh.example")
    };
    for r in rows.iter_mut() {
        if let Some(dept) = r[0].strip_prefix("清河县") {
            if r[3] == "清河县人民政府" && dept != "统计局" && dept != "审计局" {
                r[4] = addr(dept);
            }
        }
    }
    std::fs::write(d.path("register.csv"), csv(&rows)).expect("csv");
    let out = ogi(
        &d,
        &["units", "import", &d.path("register.csv").to_string_lossy()],
    );
    assert!(out.status.success(), "{}", text(&out));

    // 20 January 2026: the education bureau reports its 2025 report in time. No reminder day yet.
    restart_at(&mut d, "2026-01-20T09:00:00+08:00");
    d.drop_bytes(
        std::ffi::OsStr::new("qh-edu-2025.txt"),
        generated("清河县教育局", 2025, None).as_bytes(),
    );
    wait_for(Duration::from_secs(30), || {
        d.count("SELECT COUNT(*) FROM reports WHERE status = 'parsed'") == 1
    });
    assert!(mailed(server.as_ref().expect("server")).is_empty());

    // A week before the departments' deadline (31 January): each missing department with an
    // address is reminded, and the office gets the coverage.
    restart_at(&mut d, "2026-01-24T09:00:00+08:00");
    // 18 departments: 淮安经开区, 淮南市政府办公室 and 16 of the county's (not 教育局, which
    // reported, nor 统计局, which has no address), and the office's summary.
    let srv = server.as_ref().expect("server");
    wait_for(Duration::from_secs(30), || mailed(srv).len() == 19);
    let first = mailed(srv);
    assert_eq!(to_count(&first, &addr("教育局")), 0, "it reported");
    assert_eq!(to_count(&first, &addr("公安局")), 1);
    assert_eq!(to_count(&first, "route@qh.example"), 1, "by its mail route");
    assert_eq!(to_count(&first, "jkq@example.org"), 1);
    assert_eq!(
        to_count(&first, "qinghe@example.org"),
        0,
        "a government: due 31 March"
    );
    let police = first
        .iter()
        .find(|m| m.to == [addr("公安局")])
        .expect("reminder");
    assert!(
        police.subject.contains("清河县公安局 2025年度") && police.subject.contains("2026-01-31"),
        "{police:?}"
    );
    assert!(police.text.contains("距截止日期还有7天"), "{}", police.text);
    let office = first
        .iter()
        .find(|m| m.to == ["office@qh.example"])
        .expect("office summary");
    assert!(
        office.subject.contains("2025年度年报报送情况"),
        "{office:?}"
    );
    assert!(
        office.text.contains("按时报送1家") && office.text.contains("清河县统计局"),
        "{}",
        office.text
    );
    assert!(
        office.text.contains("名单中无联系邮箱，未发提醒"),
        "{}",
        office.text
    );

    // The daemon restarted on the same day sends nothing again.
    restart_at(&mut d, "2026-01-24T15:00:00+08:00");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(mailed(srv).len(), 19, "nothing twice after a restart");

    // On the deadline the mail server is down: the reminders wait and go once it is back.
    drop(server.take());
    restart_at(&mut d, "2026-01-31T09:00:00+08:00");
    wait_for(Duration::from_secs(30), || {
        d.log().contains("reminder: mail not sent (will retry)")
    });
    let server = common::smtp::SmtpServer::start(port, smtp_dir.path(), false);
    wait_for(Duration::from_secs(60), || mailed(&server).len() == 38);
    let due_day = mailed(&server);
    assert_eq!(to_count(&due_day, &addr("公安局")), 2);
    assert!(due_day
        .iter()
        .any(|m| m.to == [addr("公安局")] && m.text.contains("今日为截止日期")));

    // 3 February: the finance bureau's report comes, late.
    restart_at(&mut d, "2026-02-03T10:00:00+08:00");
    d.drop_bytes(
        std::ffi::OsStr::new("qh-fin-2025.txt"),
        generated("清河县财政局", 2025, None).as_bytes(),
    );
    wait_for(Duration::from_secs(30), || {
        d.count("SELECT COUNT(*) FROM reports WHERE status = 'parsed'") == 2
    });
    assert_eq!(mailed(&server).len(), 38, "3 February is no reminder day");

    // A week after the deadline: reminders to those still missing, not to the finance bureau.
    restart_at(&mut d, "2026-02-07T09:00:00+08:00");
    wait_for(Duration::from_secs(30), || mailed(&server).len() == 56);
    std::thread::sleep(Duration::from_secs(1));
    let all = mailed(&server);
    assert_eq!(all.len(), 56);
    assert_eq!(
        to_count(&all, &addr("财政局")),
        2,
        "reported before 7 February"
    );
    assert_eq!(to_count(&all, &addr("公安局")), 3);
    assert_eq!(to_count(&all, &addr("教育局")), 0);
    let last_office = all
        .iter()
        .filter(|m| m.to == ["office@qh.example"])
        .find(|m| m.subject.contains("截至2026-02-07"))
        .expect("office summary of 7 February");
    assert!(
        last_office.text.contains("逾期报送（1家）")
            && last_office
                .text
                .contains("清河县财政局，截止2026-01-31，收到于2026-02-03"),
        "{}",
        last_office.text
    );

    // Coverage by the same clock: received, late, missing, with the days each was reminded.
    let (v, out) = status(&d, 2025);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(of(&v, "清河县教育局")["status"], "received");
    assert_eq!(of(&v, "清河县财政局")["status"], "late");
    assert_eq!(of(&v, "清河县财政局")["late_by"], "收到于2026-02-03");
    assert_eq!(of(&v, "清河县公安局")["status"], "missing");
    assert_eq!(
        of(&v, "清河县公安局")["reminded"],
        serde_json::json!(["2026-01-24", "2026-01-31", "2026-02-07"])
    );
    assert_eq!(of(&v, "清河县统计局")["reminded"], serde_json::json!([]));

    // `units remind --dry-run` on the governments' reminder day shows who would get what and
    // sends nothing; on a day already done it says so.
    d.terminate();
    d.clock = Some("2026-03-24T09:00:00+08:00".into());
    let out = ogi(&d, &["units", "remind", "--dry-run", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).expect("json");
    let plan = plan.as_array().expect("plan");
    let qinghe = plan
        .iter()
        .find(|r| r["unit"] == "清河县人民政府")
        .expect("the county government");
    assert_eq!(qinghe["status"], "new");
    assert_eq!(qinghe["to"], serde_json::json!(["qinghe@example.org"]));
    assert!(plan.iter().all(|r| r["due"] == "2026-03-31"), "{plan:?}");
    assert!(plan
        .iter()
        .any(|r| r["unit"] == "" && r["to"] == serde_json::json!(["office@qh.example"])));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(mailed(&server).len(), 56, "a dry run sends nothing");
    assert_eq!(
        d.count("SELECT COUNT(*) FROM reminders WHERE on_date = '2026-03-24'"),
        0,
        "and writes nothing"
    );
    d.clock = Some("2026-02-08T09:00:00+08:00".into());
    let out = ogi(&d, &["units", "remind", "--dry-run"]);
    assert!(
        text(&out).contains("2026-02-07  sent") && text(&out).contains("清河县公安局"),
        "{}",
        text(&out)
    );
    // Without --dry-run and no daemon, the command sends the governments' reminders itself.
    d.clock = Some("2026-03-24T09:00:00+08:00".into());
    let out = ogi(&d, &["units", "remind"]);
    assert!(out.status.success(), "{}", text(&out));
    wait_for(Duration::from_secs(20), || {
        to_count(&mailed(&server), "qinghe@example.org") == 1
    });
    let out = ogi(&d, &["units", "remind"]);
    assert!(text(&out).contains("0 reminders written"), "{}", text(&out));
    assert_eq!(to_count(&mailed(&server), "qinghe@example.org"), 1);
}

/// The daemon keeps the register in memory between reports, and a register imported while it
/// runs (by another process, as `units import` is) is the one the next report meets: its units
/// below the issuer for the rules, its addresses for the summary.
#[test]
fn a_register_imported_while_the_daemon_runs_is_the_one_it_uses() {
    const RULE_UNITS: &str = r#"
const ID = "units-seen";
const TITLE = "下级单位";
const SEVERITY = "error";
fn check(report) { [finding(`下级单位${if report.units == () { 0 } else { report.units.len() }}个`)] }
"#;
    let d = Daemon::start_with(&[("units-seen.rhai", RULE_UNITS)], "");
    let import = |rows: &[[&str; 5]]| {
        let rows: Vec<[String; 5]> = rows.iter().map(|r| r.map(str::to_string)).collect();
        std::fs::write(d.path("register.csv"), csv(&rows)).expect("csv");
        let reg = d.path("register.csv").to_string_lossy().into_owned();
        let out = ogi(&d, &["units", "import", &reg]);
        assert!(out.status.success(), "{}", text(&out));
    };
    // The rule's finding and the summary's recipients for a report.
    let seen = |id: i64| -> (String, String) {
        d.db()
            .query_row(
                "SELECT f.message, n.recipients FROM findings f JOIN notices n
                 ON n.report_id = f.report_id WHERE f.report_id = ?1 AND f.rule = 'units-seen'",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("finding and notice")
    };
    let county = generated("清河县人民政府", 2026, None);
    import(&[
        ["清河县人民政府", "", "政府", "", "first@example.org"],
        ["清河县教育局", "", "部门", "清河县人民政府", ""],
    ]);
    d.drop_bytes(std::ffi::OsStr::new("county-1.txt"), county.as_bytes());
    wait_for(Duration::from_secs(30), || {
        d.count("SELECT COUNT(*) FROM reports") == 1
    });
    let (message, to) = seen(1);
    assert!(message.contains("下级单位1个"), "{message}");
    assert!(to.contains("first@example.org"), "{to}");

    import(&[
        ["清河县人民政府", "", "政府", "", "second@example.org"],
        ["清河县教育局", "", "部门", "清河县人民政府", ""],
        ["清河县财政局", "", "部门", "清河县人民政府", ""],
    ]);
    d.drop_bytes(
        std::ffi::OsStr::new("county-2.txt"),
        county.replace("230条", "231条").as_bytes(),
    );
    wait_for(Duration::from_secs(30), || {
        d.count("SELECT COUNT(*) FROM reports") == 2
    });
    let (message, to) = seen(2);
    assert!(message.contains("下级单位2个"), "{message}");
    assert!(
        to.contains("second@example.org") && !to.contains("first@"),
        "{to}"
    );
}
