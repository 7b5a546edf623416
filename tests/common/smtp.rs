//! A real SMTP server for the tests: Debian's python3-aiosmtpd on 127.0.0.1, started per test
//! on a free port, writing a maildir.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{wait_for, walk};

/// The Python that has aiosmtpd (Debian's; another python3 may come first on PATH).
pub const PYTHON: &str = "/usr/bin/python3";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// An SMTP server writing every accepted message into `dir/new`.
pub struct SmtpServer {
    child: Child,
    dir: PathBuf,
}

/// A handler that refuses recipients whose address starts with `reject`, with a permanent 550.
pub const REJECTING: &str = r#"
from aiosmtpd.handlers import Mailbox

class Rejecting(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"
"#;

/// Handlers that also record each accepted message decoded, as `received/N.json` beside the
/// maildir (subject, plain text, size in bytes as received); `SecondRefused` answers the second
/// DATA with a transient 451, as a server that is briefly overloaded does.
pub const RECORDING: &str = r#"
import email, email.policy, json, os
from aiosmtpd.handlers import Mailbox

class Recording(Mailbox):
    def __init__(self, mail_dir):
        super().__init__(mail_dir)
        self.out = os.path.join(os.path.dirname(os.path.abspath(mail_dir)), "received")
        os.makedirs(self.out, exist_ok=True)
        self.datas = 0
        self.saved = 0

    def refuse(self, n):
        return None

    async def handle_DATA(self, server, session, envelope):
        self.datas += 1
        refused = self.refuse(self.datas)
        if refused:
            return refused
        raw = envelope.original_content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        record = {
            "subject": str(msg["subject"]),
            "text": msg.get_body(("plain",)).get_content(),
            "size": len(raw),
        }
        self.saved += 1
        tmp = os.path.join(self.out, ".%d.json" % self.saved)
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False)
        os.rename(tmp, os.path.join(self.out, "%d.json" % self.saved))
        return await super().handle_DATA(server, session, envelope)

class SecondRefused(Recording):
    def refuse(self, n):
        return "451 4.3.0 temporarily unable to accept" if n == 2 else None
"#;

/// Which handler a test server runs.
#[derive(Clone, Copy)]
pub enum Handler {
    Mailbox,
    Rejecting,
    /// `Recording`, refusing messages over this many bytes with 552 (aiosmtpd's `--size`).
    Recording(Option<usize>),
    SecondRefused,
}

/// A decoded message as `Recording` saw it.
#[derive(Debug)]
pub struct Received {
    pub subject: String,
    pub text: String,
    pub size: u64,
}

impl SmtpServer {
    pub fn start(port: u16, dir: &Path, rejecting: bool) -> SmtpServer {
        SmtpServer::launch(
            port,
            dir,
            if rejecting {
                Handler::Rejecting
            } else {
                Handler::Mailbox
            },
        )
    }

    pub fn launch(port: u16, dir: &Path, handler: Handler) -> SmtpServer {
        std::fs::create_dir_all(dir).expect("maildir");
        std::fs::write(dir.join("rejecting.py"), REJECTING).expect("handler");
        std::fs::write(dir.join("recording.py"), RECORDING).expect("handler");
        let (class, size) = match handler {
            Handler::Mailbox => ("aiosmtpd.handlers.Mailbox", None),
            Handler::Rejecting => ("rejecting.Rejecting", None),
            Handler::Recording(size) => ("recording.Recording", size),
            Handler::SecondRefused => ("recording.SecondRefused", None),
        };
        let mut command = Command::new(PYTHON);
        command.args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            class,
        ]);
        if let Some(size) = size {
            command.args(["--size", &size.to_string()]);
        }
        let child = command
            .arg(dir.join("maildir"))
            .env("PYTHONPATH", dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd (install python3-aiosmtpd)");
        wait_for(Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        SmtpServer {
            child,
            dir: dir.join("maildir"),
        }
    }

    /// The messages a `Recording` handler accepted so far, in order.
    pub fn received(&self) -> Vec<Received> {
        let dir = self.dir.with_file_name("received");
        let mut numbered: Vec<(u64, PathBuf)> = walk(&dir)
            .into_iter()
            .filter_map(|p| {
                let n = p.file_stem()?.to_str()?.parse().ok()?;
                (p.extension()? == "json").then_some((n, p))
            })
            .collect();
        numbered.sort();
        numbered
            .iter()
            .map(|(_, p)| {
                let v: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(p).expect("record"))
                        .expect("json");
                Received {
                    subject: v["subject"].as_str().expect("subject").to_string(),
                    text: v["text"].as_str().expect("text").to_string(),
                    size: v["size"].as_u64().expect("size"),
                }
            })
            .collect()
    }

    /// The raw messages received so far.
    pub fn messages(&self) -> Vec<String> {
        walk(&self.dir.join("new"))
            .iter()
            .map(|p| std::fs::read_to_string(p).expect("message"))
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|l| l[name.len() + 1..].trim())
}

pub fn mail_config(port: u16, routes: &str, fallback: &str) -> String {
    format!(
        "[mail]\ntransport = \"smtp\"\nfrom = \"ogi-audit@example.org\"\ngroup_wait = \"300ms\"\n\
         group_interval = \"1h\"\nfallback = [{fallback}]\n\
         [mail.smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\ntimeout = \"5s\"\n{routes}"
    )
}
