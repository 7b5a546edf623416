//! Old Word (`.doc`) and WPS (`.wps`) files: the seeds saved by LibreOffice as Word 97-2003
//! read through `check` and the daemon with exactly the text seeds' tables; an encrypted file,
//! an older WPS file without a Word text stream and a damaged one quarantined with their reasons;
//! and LibreOffice, when installed, reading what the built-in reader cannot.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{repo, wait_for, Daemon, BIN, RULE_ALWAYS};

fn generated(seed: &str, ext: &str) -> PathBuf {
    let dir = repo().join("tests/fixtures/generated");
    std::fs::read_dir(&dir)
        .expect("generated")
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                n.starts_with(seed)
                    && n.ends_with(&format!(".{ext}"))
                    && n.matches('.').count() == 1
            })
        })
        .expect("fixture")
}

/// A copy of a `.doc` with its WordDocument stream changed by `edit`.
fn edited(src: &Path, dest: &Path, edit: impl FnOnce(&mut Vec<u8>)) {
    std::fs::copy(src, dest).expect("copy");
    let mut file = cfb::open_rw(dest).expect("ole");
    let mut word = Vec::new();
    file.open_stream("WordDocument")
        .expect("stream")
        .read_to_end(&mut word)
        .expect("read");
    edit(&mut word);
    let mut s = file.create_stream("WordDocument").expect("rewrite");
    s.write_all(&word).expect("write");
    drop(s);
    file.flush().expect("flush");
}

/// An OLE file such as older WPS versions and Works write: no WordDocument stream.
fn older_wps(dest: &Path) {
    let mut file = cfb::create(dest).expect("ole");
    let mut s = file.create_stream("CONTENTS").expect("stream");
    s.write_all("金山文字 2000 文档".as_bytes()).expect("write");
    drop(s);
    file.flush().expect("flush");
}

fn check_json(path: &Path, envs: &[(&str, &str)]) -> serde_json::Value {
    let mut c = Command::new(BIN);
    c.args(["check", "--format", "json"]).arg(path);
    for (k, v) in envs {
        c.env(k, v);
    }
    let out = c.output().expect("check");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn doc_and_wps_files_read_through_check_and_the_daemon_and_bad_ones_are_quarantined() {
    // `check`: the same tables as the text seed, for every seed, as .doc and as .wps.
    for seed in ["000", "001", "002", "003", "004"] {
        let text = check_json(&common::seed(seed), &[]);
        for ext in ["doc", "wps"] {
            let v = check_json(&generated(seed, ext), &[]);
            let (r, t) = (&v["reports"][0], &text["reports"][0]);
            assert_eq!(r["status"], "parsed", "{seed}.{ext}: {r}");
            assert_eq!(r["report"]["table3"], t["report"]["table3"], "{seed}.{ext}");
            assert_eq!(r["report"]["table4"], t["report"]["table4"], "{seed}.{ext}");
            assert_eq!(r["report"]["table2"], t["report"]["table2"], "{seed}.{ext}");
        }
    }

    // As on a machine without LibreOffice (the built-in reader alone).
    let mut d = Daemon::start_with_env(
        &[("always.rhai", RULE_ALWAYS)],
        "",
        &[("OGI_AUDIT_SOFFICE", "/nonexistent/soffice")],
    );
    let stage = tempfile::tempdir().expect("stage");
    let encrypted = stage.path().join("encrypted.doc");
    edited(&generated("002", "doc"), &encrypted, |w| w[0x0B] |= 0x01);
    let damaged = stage.path().join("damaged.doc");
    // The piece table's address pointed past the table stream.
    edited(&generated("003", "doc"), &damaged, |w| {
        let at = 154 + 33 * 8;
        w[at..at + 4].copy_from_slice(&0x7FFF_FFF0u32.to_le_bytes());
    });
    let wps2000 = stage.path().join("wps2000.wps");
    older_wps(&wps2000);
    // Every seed, three as .doc and two as .wps (the two are the same bytes: one of each is
    // dropped, or the second would be the same report again).
    let seeds = ["000", "001", "002", "003", "004"];
    for (i, seed) in seeds.iter().enumerate() {
        let ext = if i < 3 { "doc" } else { "wps" };
        d.drop_file(&generated(seed, ext), &format!("{seed}.{ext}"));
    }
    for (src, name) in [
        (encrypted, "encrypted.doc"),
        (damaged, "damaged.doc"),
        (wps2000, "wps2000.wps"),
    ] {
        d.drop_file(&src, name);
    }
    wait_for(Duration::from_secs(30), || {
        d.count("SELECT COUNT(*) FROM reports") == 8
    });
    for seed in seeds {
        let z: Vec<u8> = d
            .db()
            .query_row(
                "SELECT m.z FROM reports r JOIN models m ON m.report_id = r.id WHERE r.status = 'parsed' AND r.encoding = 'UTF-16LE' AND r.path LIKE ?1",
                [format!("%{seed}.%")],
                |r| r.get(0),
            )
            .unwrap_or_else(|e| panic!("{seed}: {e}"));
        let stored = ogi_audit::store::codec::decode(&z).expect("model");
        let text = &check_json(&common::seed(seed), &[])["reports"][0]["report"];
        assert_eq!(
            serde_json::to_value(&stored.table3).expect("json"),
            text["table3"],
            "{seed}"
        );
        assert_eq!(
            serde_json::to_value(&stored.table4).expect("json"),
            text["table4"],
            "{seed}"
        );
    }
    let reason = |file: &str| -> String {
        let path = d.path(&format!("quarantine/{file}.reason.txt"));
        wait_for(Duration::from_secs(10), || path.exists());
        std::fs::read_to_string(&path).expect("reason")
    };
    let r = reason("encrypted.doc");
    assert!(r.contains("encrypted") && r.contains("password"), "{r}");
    let r = reason("damaged.doc");
    assert!(r.contains("piece table"), "{r}");
    let r = reason("wps2000.wps");
    assert!(
        r.contains("older WPS") && r.contains("LibreOffice"),
        "says what it is and what would read it: {r}"
    );
    d.kill();
}

/// LibreOffice reads what the built-in reader cannot: here a program in its place that answers
/// as `soffice --convert-to docx` does, writing the seed's DOCX where it was told to, so the
/// test needs no office suite; the conversion's folder, arguments and result are the real ones.
#[test]
fn libreoffice_reads_what_the_built_in_reader_cannot() {
    let dir = tempfile::tempdir().expect("dir");
    let wps = dir.path().join("wps2000.wps");
    older_wps(&wps);
    let log = dir.path().join("args.txt");
    let fake = dir.path().join("soffice");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{log}'\n\
             out=''; prev=''\nfor a in \"$@\"; do [ \"$prev\" = --outdir ] && out=\"$a\"; prev=\"$a\"; done\n\
             mkdir -p \"$out\" && cp '{docx}' \"$out/report.docx\"\n",
            log = log.display(),
            docx = generated("001", "docx").display()
        ),
    )
    .expect("script");
    let mut perms = std::fs::metadata(&fake).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&fake, perms).expect("chmod");

    let fake = fake.to_string_lossy().into_owned();
    let v = check_json(&wps, &[("OGI_AUDIT_SOFFICE", &fake)]);
    let r = &v["reports"][0];
    assert_eq!(r["status"], "parsed", "{r}");
    let seed = check_json(&common::seed("001"), &[]);
    assert_eq!(
        r["report"]["table3"],
        seed["reports"][0]["report"]["table3"]
    );
    let args = std::fs::read_to_string(&log).expect("args");
    assert!(
        args.contains("--headless") && args.contains("docx") && args.contains("report.wps"),
        "{args}"
    );
    // The temporary folder is gone afterwards.
    let folder = args
        .lines()
        .find(|l| l.ends_with("report.wps"))
        .map(|l| Path::new(l).parent().expect("folder").to_path_buf())
        .expect("input");
    assert!(!folder.exists(), "{} left behind", folder.display());

    // A program that writes nothing: the file keeps a clear reason.
    let v = check_json(&wps, &[("OGI_AUDIT_SOFFICE", "/bin/true")]);
    let r = &v["reports"][0];
    assert_eq!(r["status"], "unparseable");
    assert!(
        r["error"]
            .as_str()
            .is_some_and(|e| e.contains("LibreOffice could not read the file either")),
        "{r}"
    );
}
