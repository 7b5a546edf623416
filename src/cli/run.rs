//! `run`: the daemon on the tokio runtime, with the signals that stop and reload it.

use super::*;

pub(super) fn run(explicit: Option<&Path>) -> Result<ExitCode> {
    let mut config = config(explicit)?;
    let runtime = runtime()?;
    runtime.block_on(async {
        let mut signals = Signals::new();
        // The configuration the daemon last started with, to fall back on when a reloaded one
        // cannot start.
        let mut good: Option<Config> = None;
        loop {
            match daemon::run(config.clone(), signals.next()).await {
                Ok(daemon::Stop::Exit) => return Ok(ExitCode::SUCCESS),
                Ok(daemon::Stop::Reload) => {
                    good = Some(config.clone());
                    match Config::resolve(explicit) {
                        Ok(new) => {
                            if new.log_level != config.log_level
                                || new.log_format != config.log_format
                            {
                                tracing::warn!("log.level and log.format take effect at the next start, not on reload");
                            }
                            tracing::info!("configuration read anew");
                            config = new;
                        }
                        Err(e) => tracing::error!(
                            "configuration not reloaded, the running one stays: {e}"
                        ),
                    }
                }
                Err(e) => match good.take() {
                    // The reloaded configuration cannot start: go on with the one that could.
                    Some(previous) => {
                        tracing::error!(
                            "the reloaded configuration cannot start, the previous one stays: {}",
                            error_chain(&e)
                        );
                        config = previous;
                    }
                    None => return Err(e),
                },
            }
        }
    })
}

/// The tokio runtime the daemon and the console run on.
pub(super) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")
}

/// SIGINT (Ctrl-C) and SIGTERM stop the daemon; SIGHUP reloads its configuration and rules.
pub(super) struct Signals {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
    hangup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    pub(super) fn new() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        let listen = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!("cannot listen for {name}: {e}");
                None
            }
        };
        Signals {
            interrupt: listen(SignalKind::interrupt(), "SIGINT"),
            terminate: listen(SignalKind::terminate(), "SIGTERM"),
            hangup: listen(SignalKind::hangup(), "SIGHUP"),
        }
    }

    /// Waits for the next signal and says what it asks for.
    pub(super) async fn next(&mut self) -> daemon::Stop {
        async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            () = recv(&mut self.interrupt) => {
                tracing::info!("interrupted");
                daemon::Stop::Exit
            }
            () = recv(&mut self.terminate) => {
                tracing::info!("terminated");
                daemon::Stop::Exit
            }
            () = recv(&mut self.hangup) => {
                tracing::info!("SIGHUP: reloading the configuration and rules");
                daemon::Stop::Reload
            }
        }
    }
}
