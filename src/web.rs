//! The web console: every report with its tables and findings, each issuer over the years, the
//! rules, and exports — served by the daemon itself (`ogi-audit run`) or alone over a store
//! (`ogi-audit serve`), on the daemon's tokio runtime.
//!
//! Beside mail, reading the store: every request opens its own read-only connection (the store
//! is in WAL mode), so a page never waits for the daemon's writes and never blocks them. Pages
//! are rendered on the server from MiniJinja templates with auto-escaping (report content is
//! hostile), with one embedded stylesheet, no script and a strict Content-Security-Policy.
//! A slow or hostile client cannot stall anything: headers must arrive within seconds, a request
//! has a deadline and a body limit, and connections are capped. A failure of the console is
//! logged and never stops the daemon.
//!
//! On a loopback address the console may run without users (whoever reaches it is trusted);
//! bound to any other address it refuses to start unless users exist ([`auth`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::Environment;
use thiserror::Error;

use crate::config::{Config, Web};
use crate::store::{Store, StoreError};

mod auth;
mod export;
mod pages;
mod report;
mod review;
mod units;

pub use auth::{hash_password, verify_password};

/// The console could not be started.
#[derive(Debug, Error)]
pub enum WebError {
    #[error("refusing to start the web console on {addr}: it is not a loopback address and no user is configured; add one (`ogi-audit user add NAME --role admin`) or listen on 127.0.0.1")]
    Unprotected { addr: SocketAddr },
    #[error("cannot listen on {addr} for the web console: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("web console: {0}")]
    Store(#[from] StoreError),
    #[error("web console template {name}: {source}")]
    Template {
        name: String,
        #[source]
        source: minijinja::Error,
    },
}

/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request may take, reading its body and rendering included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one connection may stay open, across its requests.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(300);
/// Connections served at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 256;
/// The largest request body (forms are small).
const MAX_BODY: usize = 64 * 1024;
/// The largest register the console's editor takes.
const MAX_REGISTER: usize = 4 * 1024 * 1024;
/// Reports on one page of a list.
pub const PAGE_SIZE: usize = 50;

/// The stylesheet, served as `/style.css`.
const STYLE: &str = include_str!("web/style.css");

/// The templates, by name.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("web/templates/base.html")),
    ("finding.html", include_str!("web/templates/finding.html")),
    ("overview.html", include_str!("web/templates/overview.html")),
    ("rows.html", include_str!("web/templates/rows.html")),
    ("reports.html", include_str!("web/templates/reports.html")),
    ("report.html", include_str!("web/templates/report.html")),
    ("issuer.html", include_str!("web/templates/issuer.html")),
    ("rules.html", include_str!("web/templates/rules.html")),
    ("users.html", include_str!("web/templates/users.html")),
    ("review.html", include_str!("web/templates/review.html")),
    ("units.html", include_str!("web/templates/units.html")),
    ("register.html", include_str!("web/templates/register.html")),
    ("login.html", include_str!("web/templates/login.html")),
    ("message.html", include_str!("web/templates/message.html")),
];

/// What every request handler shares.
pub(crate) struct App {
    /// The whole configuration, for what the console does beyond reading (a correction audits
    /// the report again with the rules).
    config: Config,
    database: PathBuf,
    web: Web,
    /// Where the rules are, for the rules page's file names.
    rules_dir: PathBuf,
    env: Environment<'static>,
    sessions: auth::Sessions,
}

impl App {
    fn new(config: &Config) -> Result<App, WebError> {
        Ok(App {
            config: config.clone(),
            database: config.database.clone(),
            web: config.web.clone(),
            rules_dir: config.rules_dir.clone(),
            env: environment()?,
            sessions: auth::Sessions::default(),
        })
    }

    /// A connection that may write (review decisions), in a blocking thread: `f` runs there.
    async fn write<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, Failure> {
        let path = self.database.clone();
        tokio::task::spawn_blocking(move || {
            let mut store = Store::open(&path)?;
            f(&mut store)
        })
        .await
        .map_err(|e| Failure::Internal(format!("writing the store: {e}")))?
        .map_err(Failure::from)
    }

    /// A read-only connection of its own, in a blocking thread: `f` runs there.
    async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, Failure> {
        let path = self.database.clone();
        tokio::task::spawn_blocking(move || {
            let store = Store::open_read_only(&path)?;
            f(&store)
        })
        .await
        .map_err(|e| Failure::Internal(format!("reading the store: {e}")))?
        .map_err(Failure::from)
    }

    /// Renders a template; `ctx` gets the reader and the CSRF token as `who` and `csrf`.
    fn render(&self, name: &str, who: &auth::Who, ctx: minijinja::Value) -> Response {
        let full = minijinja::context! {
            who => who,
            csrf => who.csrf.clone(),
            page => name.trim_end_matches(".html"),
            narrow => name == "login.html",
            ..ctx
        };
        match self.env.get_template(name).and_then(|t| t.render(full)) {
            Ok(html) => Html(html).into_response(),
            Err(e) => Failure::Internal(format!("template {name}: {e:#}")).into_response(),
        }
    }
}

/// The template environment: every template embedded, auto-escaping on (`.html`).
fn environment() -> Result<Environment<'static>, WebError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .map_err(|source| WebError::Template {
                name: (*name).to_string(),
                source,
            })?;
    }
    Ok(env)
}

/// Checks that the templates compile and that the console may listen where it is told: the
/// daemon and `validate` call it before starting.
pub fn check(config: &Config) -> Result<(), WebError> {
    environment()?;
    let Some(addr) = config.web.listen else {
        return Ok(());
    };
    if !addr.ip().is_loopback() && !auth::users_exist(config)? {
        return Err(WebError::Unprotected { addr });
    }
    Ok(())
}

/// Why a request failed, as the reader sees it.
#[derive(Debug)]
pub(crate) enum Failure {
    NotFound,
    Forbidden(&'static str),
    BadRequest(String),
    Internal(String),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        Failure::Internal(e.to_string())
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (status, text) = match self {
            Failure::NotFound => (
                StatusCode::NOT_FOUND,
                "没有这个页面或报告，或不在您的查看范围内。".to_string(),
            ),
            Failure::Forbidden(why) => (StatusCode::FORBIDDEN, why.to_string()),
            Failure::BadRequest(why) => (StatusCode::BAD_REQUEST, why),
            Failure::Internal(why) => {
                tracing::error!("web console: {why}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "服务器内部错误，已记入日志。".to_string(),
                )
            }
        };
        // Plain and escaped: the message may quote the request.
        let body = format!(
            "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{code}</title><link rel=\"stylesheet\" href=\"/style.css\"></head><body><main class=\"narrow\"><h1>{code}</h1><p>{}</p><p><a href=\"/\">返回总览</a></p></main></body></html>",
            escape(&text),
            code = status.as_u16()
        );
        (status, Html(body)).into_response()
    }
}

/// HTML-escapes text for the few places that do not go through a template.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The routes.
fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(pages::overview))
        .route("/reports", get(pages::reports))
        .route("/reports.csv", get(export::reports_csv))
        .route("/findings.csv", get(export::findings_csv))
        .route("/findings.xlsx", get(export::findings_xlsx))
        .route("/reports/{id}", get(report::report))
        .route("/reports/{id}/file", get(report::file))
        .route("/reports/{id}/correct", post(review::correct))
        .route("/review", get(review::queue).post(review::decide))
        .route("/issuer", get(report::issuer))
        .route("/rules", get(pages::rules))
        .route("/units", get(units::coverage))
        .route("/units/assign", post(units::assign))
        .route(
            "/units/register",
            get(units::editor)
                .post(units::save)
                // A register of a few thousand units is larger than a form.
                .layer(axum::extract::DefaultBodyLimit::max(MAX_REGISTER)),
        )
        .route("/users", get(pages::users))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/style.css", get(style))
        .fallback(|| async { Failure::NotFound })
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth::authenticate,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(guard))
        .with_state(app)
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        STYLE,
    )
        .into_response()
}

/// Every response: the request's deadline, and headers that keep the browser from running or
/// framing anything the pages do not mean to.
async fn guard(request: Request, next: Next) -> Response {
    let mut response = match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(r) => r,
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "请求超时").into_response(),
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// A running console.
pub struct Console {
    addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Console {
    /// Where it listens (the port chosen when `listen` gave port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and closes the open connections.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Starts the console on the current tokio runtime, if `[web] listen` is set.
pub async fn start(config: &Config) -> Result<Option<Console>, WebError> {
    let Some(addr) = config.web.listen else {
        return Ok(None);
    };
    check(config)?;
    let app = Arc::new(App::new(config)?);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| WebError::Bind { addr, source })?;
    let bound = listener.local_addr().unwrap_or(addr);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(serve(listener, router(app), stopped));
    tracing::info!(
        "web console on http://{bound}{}",
        if auth::users_exist(config).unwrap_or(false) {
            " (login required)"
        } else {
            " (no login: loopback only)"
        }
    );
    Ok(Some(Console {
        addr: bound,
        stop,
        task,
    }))
}

/// Accepts connections until told to stop; each is served with the header and lifetime limits.
async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stopped.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!("web console: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        while connections.try_join_next().is_some() {}
        let service = hyper_util::service::TowerToHyperService::new(
            router.clone().layer(axum::Extension(auth::Peer(peer))),
        );
        connections.spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            // A connection past its lifetime is simply closed.
            if let Ok(Err(e)) = tokio::time::timeout(CONNECTION_LIFETIME, conn).await {
                tracing::debug!("web console: connection from {peer}: {e}");
            }
            drop(permit);
        });
    }
    connections.abort_all();
}

/// Serves the console alone over an existing store until `shutdown` completes (`ogi-audit serve`).
pub async fn serve_alone(
    config: &Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    // Bring the schema up to date once; every page then reads through its own connection.
    Store::open(&config.database)
        .with_context(|| format!("cannot open the store {}", config.database.display()))?;
    let console = start(config)
        .await?
        .context("no [web] listen address is configured: nothing to serve")?;
    shutdown.await;
    console.stop().await;
    Ok(())
}
