//! `init` and `validate`: a set-up written, and checked before it goes live.

use super::*;

pub(super) fn init(dir: &Path) -> Result<ExitCode> {
    let done = crate::setup::init(dir)?;
    println!("wrote {}", done.config.display());
    println!(
        "wrote {} (the rule pack, with its tests)",
        done.rules.display()
    );
    for f in &done.folders {
        println!("made  {}", f.display());
    }
    let cd = if dir == Path::new(".") {
        String::new()
    } else {
        format!("cd {} && ", dir.display())
    };
    println!("\nnext: {cd}ogi-audit validate && ogi-audit run");
    println!("      then copy a report into inbox/ and run `ogi-audit findings`");
    Ok(ExitCode::SUCCESS)
}

pub(super) fn validate(explicit: Option<&Path>, offline: bool) -> Result<ExitCode> {
    init_tracing("warn", LogFormat::Human);
    let config = match Config::resolve(explicit) {
        Ok(c) => c,
        Err(e) => {
            println!("FAIL  config: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let checks = crate::setup::validate(&config, offline);
    for c in &checks {
        let mut lines = c.detail.lines();
        println!(
            "{}  {}: {}",
            if c.ok { "ok  " } else { "FAIL" },
            c.what,
            lines.next().unwrap_or("")
        );
        for more in lines {
            println!("      {more}");
        }
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    if failed == 0 {
        println!("all {} checks passed", checks.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{failed} of {} checks failed", checks.len());
        Ok(ExitCode::from(1))
    }
}
