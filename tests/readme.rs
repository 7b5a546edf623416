//! The README's commands work as written: every ```sh block runs, in order, as one bash script
//! in a fresh folder with the binary on PATH and the repository's `tests/` beside it. (Blocks
//! marked ```console — the cargo commands of the Quick start — are what CI itself runs.)

mod common;

use std::process::Command;

use common::{repo, BIN};

/// The ```sh blocks of a markdown text, in order.
fn sh_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim_end() == "```sh" => current = Some(String::new()),
            Some(block) if line.starts_with("```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

#[test]
fn every_sh_block_of_the_readme_runs() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let blocks = sh_blocks(&readme);
    assert!(blocks.len() >= 3, "README has {} sh blocks", blocks.len());

    let dir = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(repo().join("tests"), dir.path().join("tests")).expect("link tests");
    let bin_dir = std::path::Path::new(BIN).parent().expect("bin dir");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // Background jobs (the daemon) are stopped whatever happens.
    let mut script =
        String::from("set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n");
    for (i, block) in blocks.iter().enumerate() {
        script.push_str(&format!("echo '--- README sh block {}'\n{block}\n", i + 1));
    }
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .env("PATH", path)
        .env_remove("OGI_AUDIT_CONFIG")
        .output()
        .expect("bash");
    let log = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "README commands failed:\n{log}");

    // What the walk-through promises happened.
    assert!(log.contains("reports:       1 (1 parsed"), "{log}");
    assert!(
        log.contains("narrative-vs-tables"),
        "findings listed:\n{log}"
    );
    let csv = std::fs::read_to_string(dir.path().join("findings.csv")).expect("findings.csv");
    assert!(csv.lines().count() > 1, "{csv}");
    assert!(dir.path().join("archive").is_dir());
    assert!(log.contains("all 11 checks passed"), "{log}");
    assert!(
        log.contains("ok    web console: http://127.0.0.1:8080 (loopback)"),
        "{log}"
    );
    assert!(
        log.contains("added huainan: viewer, issuers 淮南市*"),
        "{log}"
    );
    assert!(log.contains("review-described"), "{log}");
    assert!(log.contains("0 failed"), "{log}");
    assert!(log.contains("test message"), "{log}");
    assert!(dir.path().join("my-office/004.json").is_file());
}
