//! Who is asking: users (from the config and the store) with argon2 password hashes, sessions
//! kept in memory behind an `HttpOnly`, `SameSite=Strict` cookie, a login rate limit, and CSRF
//! tokens for every form (a random cookie that each form must repeat).
//!
//! When no user exists and the console listens on loopback, every request is served as an
//! administrator of the whole scope; once any user exists, every page but the login form needs
//! a login. A user's role and scope are read anew on every request, so a change or removal takes
//! effect at once.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::{Deserialize, Serialize};

use super::{App, Failure};
use crate::config::{Config, Role};
use crate::store::{Scope, Store, StoreError};

const SESSION_COOKIE: &str = "ogi_session";
const CSRF_COOKIE: &str = "ogi_csrf";
/// Failed logins allowed per name within [`FAILURE_WINDOW`].
const MAX_FAILURES: u32 = 5;
/// Failed logins allowed per client address (higher: behind a reverse proxy every client
/// comes from one address, and one person's typos must not lock out the office).
const MAX_FAILURES_PER_ADDRESS: u32 = 30;
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Sessions kept at once; the least recently used go first.
const MAX_SESSIONS: usize = 10_000;

/// The client's address, put on every request by the accept loop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub SocketAddr);

/// An argon2id hash of a password in PHC form, with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for the salt: {e}"))?;
    let salt = SaltString::encode_b64(&bytes).map_err(|e| format!("salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether `password` matches a PHC hash (false for a malformed hash).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// 32 random bytes as hex.
fn token() -> String {
    let mut bytes = [0u8; 32];
    // The operating system's generator does not fail on Linux once booted; should it ever, a
    // session must not get a predictable token: stop the request's task rather than go on.
    if let Err(e) = getrandom::fill(&mut bytes) {
        panic!("no randomness for a session token: {e}");
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_token(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Compares two secrets in time that does not depend on where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Whether any user exists, in the config or the store (a store not created yet has none).
pub(crate) fn users_exist(config: &Config) -> Result<bool, StoreError> {
    if !config.web.users.is_empty() {
        return Ok(true);
    }
    if !config.database.is_file() {
        return Ok(false);
    }
    // Before the store is migrated (an older version's database) too.
    Ok(crate::store::count_users(&config.database)? > 0)
}

/// A user as the console knows it.
#[derive(Debug, Clone)]
struct Account {
    password_hash: String,
    role: Role,
    scope: Vec<String>,
}

/// Looks a user up: the config's users first, then the store's.
fn account(app: &App, store: Option<&Store>, name: &str) -> Result<Option<Account>, StoreError> {
    if let Some(u) = app.web.users.iter().find(|u| u.name == name) {
        return Ok(Some(Account {
            password_hash: u.password_hash.clone(),
            role: u.role,
            scope: u.scope.clone(),
        }));
    }
    let Some(store) = store else {
        return Ok(None);
    };
    Ok(store.user(name)?.map(|u| Account {
        password_hash: u.password_hash,
        role: u.role,
        scope: u.scope,
    }))
}

/// The reader of a request.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Who {
    /// The user's name; `None` when no login is needed (loopback, no users).
    pub name: Option<String>,
    #[serde(skip)]
    pub role: Role,
    pub role_zh: &'static str,
    /// Whether logins are in force (the page shows a logout button).
    pub login: bool,
    #[serde(skip)]
    pub scope: Scope,
    /// The scope's patterns, for the page header.
    pub scope_text: String,
    /// The token every form repeats.
    #[serde(skip)]
    pub csrf: String,
    pub is_admin: bool,
}

impl Who {
    /// Refuses a form whose token is not this reader's.
    pub fn check_csrf(&self, token: &str) -> Result<(), Failure> {
        if same_secret(token, &self.csrf) && !token.is_empty() {
            Ok(())
        } else {
            Err(Failure::Forbidden(
                "表单校验失败（CSRF 令牌缺失或不符）：请刷新页面后重试。",
            ))
        }
    }

    /// Refuses a reader below `role`.
    pub fn require(&self, role: Role) -> Result<(), Failure> {
        if self.role >= role {
            Ok(())
        } else {
            Err(Failure::Forbidden("您的账户没有查看此页面的权限。"))
        }
    }
}

#[derive(Debug)]
struct Session {
    name: String,
    last_used: Instant,
}

/// Logins and failed attempts, in memory (a restart asks people to log in again).
#[derive(Default)]
pub(crate) struct Sessions {
    sessions: Mutex<HashMap<String, Session>>,
    /// Failed logins per name and per client address: (count, first in the window).
    failures: Mutex<HashMap<String, (u32, Instant)>>,
    /// Whether users exist, and when that was last looked up.
    users_exist: Mutex<Option<(bool, Instant)>>,
}

impl Sessions {
    fn user_of(&self, token: &str, idle: Duration) -> Option<String> {
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let expired = map.get(token).is_some_and(|s| s.last_used.elapsed() > idle);
        if expired {
            map.remove(token);
            return None;
        }
        let s = map.get_mut(token)?;
        s.last_used = Instant::now();
        Some(s.name.clone())
    }

    fn open(&self, name: &str) -> String {
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        let t = token();
        map.insert(
            t.clone(),
            Session {
                name: name.to_string(),
                last_used: Instant::now(),
            },
        );
        t
    }

    fn close(&self, token: &str) {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token);
    }

    /// Whether `keys` (a name, an address) are locked out after too many failures.
    fn locked(&self, keys: &[String]) -> bool {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, (_, first)| first.elapsed() < FAILURE_WINDOW);
        keys.iter().any(|k| {
            let limit = if k.starts_with("addr:") {
                MAX_FAILURES_PER_ADDRESS
            } else {
                MAX_FAILURES
            };
            map.get(k).is_some_and(|(n, _)| *n >= limit)
        })
    }

    fn failed(&self, keys: &[String]) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for k in keys {
            map.entry(k.clone()).or_insert((0, Instant::now())).0 += 1;
        }
    }

    fn succeeded(&self, name_key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name_key);
    }
}

/// Whether logins are in force: users in the config, or in the store (looked up every few
/// seconds, so that `ogi-audit user add` takes effect without a restart).
async fn logins_in_force(app: &Arc<App>) -> Result<bool, Failure> {
    if !app.web.users.is_empty() {
        return Ok(true);
    }
    if let Some((known, at)) = *app
        .sessions
        .users_exist
        .lock()
        .unwrap_or_else(|p| p.into_inner())
    {
        if at.elapsed() < Duration::from_secs(2) {
            return Ok(known);
        }
    }
    let known = app.read(|s| Ok(!s.users()?.is_empty())).await?;
    *app.sessions
        .users_exist
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some((known, Instant::now()));
    Ok(known)
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(app: &App, name: &str, value: &str, max_age: Option<u64>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if app.web.behind_tls() {
        c.push_str("; Secure");
    }
    c
}

/// Works out who is asking, puts [`Who`] on the request, and sends those who must log in to
/// the login form. Sets the CSRF cookie on a reader's first visit.
pub(crate) async fn authenticate(
    State(app): State<Arc<App>>,
    mut request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let (csrf, new_csrf) = match cookie(headers, CSRF_COOKIE).filter(|c| is_token(c)) {
        Some(c) => (c.to_string(), false),
        None => (token(), true),
    };
    let session = cookie(headers, SESSION_COOKIE)
        .filter(|c| is_token(c))
        .map(str::to_string);
    let path = request.uri().path().to_string();
    let open_path = path == "/login" || path == "/style.css";
    let who = match identify(&app, session.as_deref(), csrf.clone()).await {
        Ok(Some(who)) => who,
        Ok(None) if open_path => Who {
            name: None,
            role: Role::Viewer,
            role_zh: "",
            login: true,
            scope: Scope(vec![String::new()]),
            scope_text: String::new(),
            csrf: csrf.clone(),
            is_admin: false,
        },
        Ok(None) => {
            let wanted = request
                .uri()
                .path_and_query()
                .map_or("/".to_string(), |p| p.as_str().to_string());
            let mut response = if request.method() == Method::GET {
                Redirect::to(&format!("/login?next={}", encode(&wanted))).into_response()
            } else {
                (StatusCode::UNAUTHORIZED, "请先登录").into_response()
            };
            if new_csrf {
                add_cookie(&mut response, &set_cookie(&app, CSRF_COOKIE, &csrf, None));
            }
            return response;
        }
        Err(f) => return f.into_response(),
    };
    request.extensions_mut().insert(who);
    let mut response = next.run(request).await;
    if new_csrf && !response.headers().contains_key(header::SET_COOKIE) {
        add_cookie(&mut response, &set_cookie(&app, CSRF_COOKIE, &csrf, None));
    }
    response
}

fn add_cookie(response: &mut Response, cookie: &str) {
    if let Ok(v) = header::HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The reader: `None` when a login is needed and the request has no valid session.
async fn identify(
    app: &Arc<App>,
    session: Option<&str>,
    csrf: String,
) -> Result<Option<Who>, Failure> {
    if !logins_in_force(app).await? {
        return Ok(Some(Who {
            name: None,
            role: Role::Admin,
            role_zh: Role::Admin.zh(),
            login: false,
            scope: Scope::all(),
            scope_text: String::new(),
            csrf,
            is_admin: true,
        }));
    }
    let Some(name) = session.and_then(|t| app.sessions.user_of(t, app.web.session_idle)) else {
        return Ok(None);
    };
    let app2 = app.clone();
    let lookup = name.clone();
    let found = app.read(move |s| account(&app2, Some(s), &lookup)).await?;
    let Some(account) = found else {
        // Removed since the login.
        if let Some(t) = session {
            app.sessions.close(t);
        }
        return Ok(None);
    };
    Ok(Some(Who {
        name: Some(name),
        role: account.role,
        role_zh: account.role.zh(),
        login: true,
        scope_text: account.scope.join("、"),
        scope: Scope(account.scope),
        csrf,
        is_admin: account.role == Role::Admin,
    }))
}

/// Percent-encodes a path for a query parameter.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where to go after logging in: only a path of this site.
fn local_target(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

pub(crate) async fn login_page(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Who>,
    axum::extract::Query(q): axum::extract::Query<NextQuery>,
) -> Response {
    app.render(
        "login.html",
        &who,
        minijinja::context! { next => local_target(q.next.as_deref()), error => "" },
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

pub(crate) async fn login(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Who>,
    Extension(Peer(peer)): Extension<Peer>,
    Form(form): Form<LoginForm>,
) -> Result<Response, Failure> {
    who.check_csrf(&form.csrf)?;
    let next = local_target(form.next.as_deref());
    let name = form.name.trim().to_string();
    let keys = [format!("name:{name}"), format!("addr:{}", client(peer))];
    let again = |error: &str| {
        app.render(
            "login.html",
            &who,
            minijinja::context! { next => next.clone(), error => error, name => name.clone() },
        )
    };
    if app.sessions.locked(&keys) {
        tracing::warn!(user = %name, peer = %peer, "login refused: too many failed attempts");
        let mut r = again("登录失败次数过多，请15分钟后再试。");
        *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        return Ok(r);
    }
    let app2 = app.clone();
    let lookup = name.clone();
    let password = form.password;
    let ok = app
        .read(move |s| {
            let found = account(&app2, Some(s), &lookup)?;
            // The same work whether or not the name exists.
            let hash = found
                .as_ref()
                .map_or(DUMMY_HASH, |a| a.password_hash.as_str());
            Ok(verify_password(&password, hash) && found.is_some())
        })
        .await?;
    if !ok {
        app.sessions.failed(&keys);
        tracing::warn!(user = %name, peer = %peer, "login failed");
        let mut r = again("用户名或密码不正确。");
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return Ok(r);
    }
    app.sessions.succeeded(&keys[0]);
    tracing::info!(user = %name, peer = %peer, "logged in");
    let session = app.sessions.open(&name);
    let mut response = Redirect::to(&next).into_response();
    add_cookie(
        &mut response,
        &set_cookie(&app, SESSION_COOKIE, &session, None),
    );
    // A new CSRF token with the new login.
    add_cookie(
        &mut response,
        &set_cookie(&app, CSRF_COOKIE, &token(), None),
    );
    Ok(response)
}

/// A client's address as a rate-limit key: IPv6 clients by their /64.
fn client(peer: SocketAddr) -> String {
    match peer.ip() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// A valid hash of no one's password, checked when the name is unknown.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3HQn1ciTJ5Cs3wOLu2DLLjbvGRjqeLz3G2JfdGrw5l0";

#[derive(Debug, Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn logout(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Who>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, Failure> {
    who.check_csrf(&form.csrf)?;
    if let Some(t) = cookie(&headers, SESSION_COOKIE) {
        app.sessions.close(t);
    }
    let mut response = Redirect::to("/login").into_response();
    add_cookie(
        &mut response,
        &set_cookie(&app, SESSION_COOKIE, "", Some(0)),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_hash_only() {
        let h = hash_password("正确的密码 1").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("正确的密码 1", &h));
        assert!(!verify_password("正确的密码 2", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(!verify_password("x", DUMMY_HASH));
    }

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(
            local_target(Some("/reports?year=2024")),
            "/reports?year=2024"
        );
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil",
            "javascript:alert(1)",
        ] {
            assert_eq!(local_target(Some(bad)), "/", "{bad}");
        }
    }

    #[test]
    fn failures_lock_a_name_for_the_window() {
        let s = Sessions::default();
        let keys = ["name:a".to_string(), "addr:127.0.0.1".to_string()];
        for _ in 0..MAX_FAILURES {
            assert!(!s.locked(&keys));
            s.failed(&keys);
        }
        assert!(s.locked(&keys));
        assert!(!s.locked(&["name:b".to_string(), "addr:127.0.0.1".to_string()]));
        for _ in MAX_FAILURES..MAX_FAILURES_PER_ADDRESS {
            s.failed(&["addr:127.0.0.1".to_string()]);
        }
        assert!(s.locked(&["name:b".to_string(), "addr:127.0.0.1".to_string()]));
    }
}
