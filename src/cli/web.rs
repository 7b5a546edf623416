//! `serve` (the web console alone over the store) and `user` (its users).

use super::*;
use crate::config::Role;

pub(super) fn serve(
    explicit: Option<&Path>,
    listen: Option<std::net::SocketAddr>,
) -> Result<ExitCode> {
    let mut config = config(explicit)?;
    if listen.is_some() {
        config.web.listen = listen;
    }
    let runtime = run::runtime()?;
    runtime.block_on(async {
        let mut signals = run::Signals::new();
        crate::web::serve_alone(&config, async move {
            // Every signal the daemon obeys stops the console alone.
            let _ = signals.next().await;
        })
        .await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// A password from standard input: asked for twice on a terminal, else the first line.
fn read_password() -> Result<String> {
    let stdin = std::io::stdin();
    let mut line = String::new();
    if stdin.is_terminal() {
        eprint!("password (shown as typed): ");
        stdin.read_line(&mut line)?;
        let mut again = String::new();
        eprint!("again: ");
        stdin.read_line(&mut again)?;
        if line.trim_end_matches(['\r', '\n']) != again.trim_end_matches(['\r', '\n']) {
            anyhow::bail!("the two passwords differ; nothing changed");
        }
    } else {
        stdin.read_line(&mut line)?;
    }
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.chars().count() < 8 {
        anyhow::bail!("the password must have at least 8 characters; nothing changed");
    }
    Ok(password)
}

pub(super) fn user_add(
    explicit: Option<&Path>,
    name: &str,
    role: Role,
    scope: &[String],
) -> Result<ExitCode> {
    let config = config(explicit)?;
    let name = name.trim();
    if name.is_empty() || name.len() > 64 || name.contains(char::is_control) {
        anyhow::bail!("give a user name of 1 to 64 characters");
    }
    if config.web.users.iter().any(|u| u.name == name) {
        anyhow::bail!(
            "{name} is a user of the config file ({}); change it there",
            config
                .source
                .as_ref()
                .map_or("embedded defaults".into(), |p| p.display().to_string())
        );
    }
    let password = read_password()?;
    let hash = crate::web::hash_password(&password).map_err(anyhow::Error::msg)?;
    let scope: Vec<String> = scope
        .iter()
        .map(|p| crate::extract::normalize_short(p.trim()))
        .filter(|p| !p.is_empty())
        .collect();
    let store = Store::open(&config.database)?;
    let new = store.put_user(name, &hash, role, &scope)?;
    eprintln!(
        "{} {name}: {}{}",
        if new { "added" } else { "changed" },
        role.as_str(),
        if scope.is_empty() {
            ", every issuer".to_string()
        } else {
            format!(", issuers {}", scope.join(", "))
        }
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) fn user_remove(explicit: Option<&Path>, name: &str) -> Result<ExitCode> {
    let config = config(explicit)?;
    let store = Store::open(&config.database)?;
    if store.remove_user(name)? {
        eprintln!("removed {name}");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("ogi-audit: no user {name} in the store");
        Ok(ExitCode::from(1))
    }
}

pub(super) fn user_list(explicit: Option<&Path>) -> Result<ExitCode> {
    let config = config(explicit)?;
    let mut out = std::io::stdout().lock();
    for u in &config.web.users {
        writeln!(
            out,
            "{}\t{}\t{}\tconfig",
            u.name,
            u.role.as_str(),
            scope_text(&u.scope)
        )?;
    }
    if config.database.is_file() {
        for u in Store::open_read_only(&config.database)?.users()? {
            writeln!(
                out,
                "{}\t{}\t{}\tstore",
                u.name,
                u.role.as_str(),
                scope_text(&u.scope)
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn scope_text(scope: &[String]) -> String {
    if scope.is_empty() {
        "*".to_string()
    } else {
        scope.join(",")
    }
}

pub(super) fn user_hash() -> Result<ExitCode> {
    let password = read_password()?;
    println!(
        "{}",
        crate::web::hash_password(&password).map_err(anyhow::Error::msg)?
    );
    Ok(ExitCode::SUCCESS)
}
