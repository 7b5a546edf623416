//! A real browser for the tests: Debian's headless Chromium, driven through ChromeDriver
//! (WebDriver). `.ci/run` installs both (packages `chromium`, `chromium-driver`, and
//! `fonts-wqy-zenhei` so that screenshots show the Chinese text).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};

/// A ChromeDriver process and one browser session, closed on drop.
pub struct Browser {
    driver: Child,
    client: Option<Client>,
    runtime: tokio::runtime::Runtime,
    _profile: tempfile::TempDir,
}

fn find(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find(|p| Path::new(p).is_file())
        .map(|p| p.to_string())
}

impl Browser {
    /// Starts ChromeDriver and a headless Chromium `width` CSS pixels wide.
    pub fn start(width: u32) -> Browser {
        let chromium = find(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]).expect(
            "the browser tests need Chromium: apt-get install chromium chromium-driver fonts-wqy-zenhei (.ci/run does)",
        );
        let driver = find(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]).expect(
            "the browser tests need ChromeDriver: apt-get install chromium-driver (.ci/run does)",
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let profile = tempfile::tempdir().expect("profile dir");
        let caps = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--window-size={width},1200"),
                ]
            }
        });
        let caps = match caps {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = runtime.block_on(async {
            loop {
                let connector = hyper_util::client::legacy::connect::HttpConnector::new();
                match ClientBuilder::new(connector)
                    .capabilities(caps.clone())
                    .connect(&url)
                    .await
                {
                    Ok(c) => break c,
                    Err(e) if Instant::now() < deadline => {
                        let _ = e;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Err(e) => panic!("no WebDriver session from chromedriver: {e}"),
                }
            }
        });
        Browser {
            driver: child,
            client: Some(client),
            runtime,
            _profile: profile,
        }
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("session open")
    }

    /// Opens a URL (`file://…` or `http://127.0.0.1:…`) and waits for it to load.
    pub fn open(&self, url: &str) {
        self.runtime
            .block_on(self.client().goto(url))
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// Opens a local file.
    pub fn open_file(&self, path: &Path) {
        self.open(&format!("file://{}", path.display()));
    }

    /// Runs JavaScript in the page (`return …;`) and gives its value.
    pub fn eval(&self, script: &str) -> Value {
        self.runtime
            .block_on(self.client().execute(script, vec![]))
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// A PNG of the whole page, saved to `path`: the window is stretched to the page's height.
    pub fn screenshot(&self, path: &Path) {
        let size = self.eval(
            "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight];",
        );
        let w = size[0].as_u64().unwrap_or(1000).clamp(320, 2000) as u32;
        let h = size[1].as_u64().unwrap_or(1200).clamp(200, 16000) as u32;
        let png = self.runtime.block_on(async {
            self.client().set_window_size(w + 20, h + 140).await.ok();
            self.client().screenshot().await
        });
        let png = png.expect("screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot dir");
        }
        std::fs::write(path, png).expect("write screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = self.runtime.block_on(c.close());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
