//! Starts the real `usage-server` binary on a loopback port with its own database,
//! and talks to it over HTTP.
#![allow(dead_code)] // each test file uses a different part of the harness

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_usage-server");
pub const REGISTER: &str = "/api/track/register-usage-point";
pub const REGISTER_MANY: &str = "/api/track/register-usage-points";
pub const GET_USAGE: &str = "/api/track/get-usage";
pub const BREAKDOWN: &str = "/api/usage/breakdown";
pub const USAGE_CSV: &str = "/api/usage/export.csv";
pub const ADMIN_USAGE: &str = "/api/admin/usage";
pub const ADMIN_CSV: &str = "/api/admin/export.csv";

/// A fresh SQLite database in its own temporary directory.
pub struct TestDb {
    pub dir: tempfile::TempDir,
    pub url: String,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("usage.db").display());
        TestDb { dir, url }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("usage.db")
    }
}

/// A key pair as printed by `usage-server keys create`.
#[derive(Debug, Clone)]
pub struct Keys {
    pub name: String,
    pub public: String,
    pub secret: String,
}

/// Runs the CLI and returns (success, stdout, stderr).
pub fn cli(database_url: &str, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(BIN)
        .args(args)
        .env("USAGE_DATABASE_URL", database_url)
        .env_remove("USAGE_SERVER_ADDR")
        .output()
        .unwrap();
    (output.status.success(), String::from_utf8(output.stdout).unwrap(), String::from_utf8(output.stderr).unwrap())
}

pub fn create_key(database_url: &str, name: &str) -> Keys {
    create_key_with(database_url, name, &[])
}

/// `keys create --name NAME` with extra arguments (e.g. `--monthly-limit 5`).
pub fn create_key_with(database_url: &str, name: &str, extra: &[&str]) -> Keys {
    let mut args = vec!["keys", "create", "--name", name];
    args.extend_from_slice(extra);
    let (ok, stdout, stderr) = cli(database_url, &args);
    assert!(ok, "keys create failed: {stderr}");
    let line: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["name"], name);
    Keys {
        name: name.to_owned(),
        public: line["publicKey"].as_str().unwrap().to_owned(),
        secret: line["secretKey"].as_str().unwrap().to_owned(),
    }
}

/// `admin create-token --name NAME --read-only`; returns the token.
pub fn create_read_only_token(database_url: &str, name: &str) -> String {
    let (ok, stdout, stderr) = cli(database_url, &["admin", "create-token", "--name", name, "--read-only"]);
    assert!(ok, "admin create-token --read-only failed: {stderr}");
    let line: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["readOnly"], true);
    line["token"].as_str().unwrap().to_owned()
}

/// `admin create-token --name NAME`; returns the token.
pub fn create_admin_token(database_url: &str, name: &str) -> String {
    let (ok, stdout, stderr) = cli(database_url, &["admin", "create-token", "--name", name]);
    assert!(ok, "admin create-token failed: {stderr}");
    let line: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["name"], name);
    line["token"].as_str().unwrap().to_owned()
}

/// An answer to a GET: status, headers and body text.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, self.text))
    }
}

/// The running binary. Killed when dropped.
pub struct TestServer {
    child: Child,
    pub url: String,
    stderr_lines: mpsc::Receiver<String>,
    stdout: BufReader<std::process::ChildStdout>,
    pub client: reqwest::Client,
}

impl TestServer {
    /// Starts `usage-server serve` on port 0 and waits for the line announcing the port.
    pub fn start(database_url: &str) -> TestServer {
        TestServer::start_with(database_url, &[])
    }

    /// [`TestServer::start`] with extra `serve` arguments.
    pub fn start_with(database_url: &str, extra: &[&str]) -> TestServer {
        TestServer::spawn(Command::new(BIN), database_url, extra)
    }

    /// [`TestServer::start_with`] with the process's file descriptor limit
    /// lowered to `nofile` (the common default is 1,024).
    pub fn start_with_file_limit(database_url: &str, extra: &[&str], nofile: u32) -> TestServer {
        let mut command = Command::new("sh");
        command.args(["-c", &format!("ulimit -n {nofile} && exec \"$0\" \"$@\""), BIN]);
        TestServer::spawn(command, database_url, extra)
    }

    fn spawn(mut command: Command, database_url: &str, extra: &[&str]) -> TestServer {
        let mut child = command
            .args(["serve", "--addr", "127.0.0.1:0", "--database", database_url])
            .args(extra)
            .env_remove("USAGE_RATE_LIMIT_PER_ADDRESS")
            .env_remove("USAGE_RATE_LIMIT_PER_KEY")
            .env_remove("USAGE_TRUST_FORWARDED_FOR")
            .env("RUST_LOG", "usage_server=info,usage_server::access=debug") // tests wait for "request started"
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, stderr_lines) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[usage-server] {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("usage-server listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_owned();
        TestServer { child, url, stderr_lines, stdout, client: reqwest::Client::new() }
    }

    /// The next line the server prints on stdout (after the one announcing its port).
    pub fn stdout_line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line.trim().to_owned()
    }

    /// Every line logged since the last look, once the process has exited.
    pub fn remaining_log_lines(&mut self) -> Vec<String> {
        self.child.wait().unwrap();
        // The reader thread ends with the pipe; what it sent is all there is.
        let mut lines = Vec::new();
        while let Ok(line) = self.stderr_lines.recv_timeout(Duration::from_secs(5)) {
            lines.push(line);
        }
        lines
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `timeout` for the process to exit; its status, if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A client whose connections come from `local` (127.0.0.2, 127.0.0.3, …:
    /// another client address on loopback).
    pub fn client_from(local: &str) -> reqwest::Client {
        reqwest::Client::builder().local_address(local.parse::<std::net::IpAddr>().unwrap()).build().unwrap()
    }

    /// Sends SIGTERM (a no-op if the process has already exited).
    pub fn terminate(&self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
    }

    /// Waits until the server logs a line containing `needle` (bounded by `timeout`).
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.stderr_lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return,
                Ok(_) => continue,
                Err(err) => panic!("server never logged {needle:?}: {err}"),
            }
        }
    }

    /// How many of the lines logged since the last look contain `needle`.
    pub fn count_log_lines(&self, needle: &str) -> usize {
        self.stderr_lines.try_iter().filter(|line| line.contains(needle)).count()
    }

    /// SIGKILL: a crash, no chance to flush anything.
    pub fn crash(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn stop(mut self) {
        self.terminate();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "server exited with {status}");
    }

    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_owned()
    }

    /// POSTs `body` with a content type and optional `Origin`; returns status and JSON.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: Option<&str>,
        origin: Option<&str>,
        body: String,
    ) -> (u16, Value) {
        let mut request = self.client.post(format!("{}{path}", self.url)).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        (status, json)
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.post_raw(path, Some("application/json"), None, body.to_string()).await
    }

    pub async fn register(&self, body: Value) -> (u16, Value) {
        self.post(REGISTER, body).await
    }

    /// Registers and asserts success; returns the classification.
    pub async fn register_ok(&self, body: Value) -> String {
        let (status, json) = self.register(body).await;
        assert_eq!(status, 200, "{json}");
        assert_eq!(json["success"], true);
        let classification = json["classification"].as_str().unwrap().to_owned();
        assert_eq!(json["billable"], classification == "billable");
        classification
    }

    /// Sends `method path` with `Authorization: Bearer credential` and a JSON
    /// body (if any); returns status and JSON.
    pub async fn call(&self, method: &str, path: &str, credential: &str, body: Option<Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.url))
            .header("authorization", format!("Bearer {credential}"));
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        (status, json)
    }

    /// GETs `path?query` with `Authorization: Bearer credential` (if any).
    pub async fn get(&self, path: &str, query: &str, credential: Option<&str>) -> Answer {
        let separator = if query.is_empty() { "" } else { "?" };
        let mut request = self.client.get(format!("{}{path}{separator}{query}", self.url));
        if let Some(credential) = credential {
            request = request.header("authorization", format!("Bearer {credential}"));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        Answer { status, headers, text: response.text().await.unwrap() }
    }

    /// GETs a JSON endpoint and asserts success.
    pub async fn get_ok(&self, path: &str, query: &str, credential: &str) -> Value {
        let answer = self.get(path, query, Some(credential)).await;
        assert_eq!(answer.status, 200, "{path}?{query}: {}", answer.text);
        let json = answer.json();
        assert_eq!(json["success"], true);
        json
    }

    /// getUsage with the secret key, asserting success.
    pub async fn usage(&self, secret: &str, since: Option<i64>) -> Value {
        let (status, json) = self.post(GET_USAGE, serde_json::json!({"apiKey": secret, "since": since})).await;
        assert_eq!(status, 200, "{json}");
        assert_eq!(json["success"], true);
        assert_eq!(json["webRenders"], json["webcodecConversions"]);
        json
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `{billable, development, failed}` as a JSON value.
pub fn counts(billable: u64, development: u64, failed: u64) -> Value {
    serde_json::json!({"billable": billable, "development": development, "failed": failed})
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// A registration body.
pub fn event(key: &Keys, kind: &str, host: &str, succeeded: bool) -> Value {
    serde_json::json!({"event": kind, "apiKey": key.public, "host": host, "succeeded": succeeded})
}

/// A registration body with any `apiKey` value (`null`, `"free-license"`, …).
pub fn event_with_api_key(api_key: Value, host: &str, succeeded: bool) -> Value {
    serde_json::json!({"event": "webcodec-conversion", "apiKey": api_key, "host": host, "succeeded": succeeded})
}

/// Parses a CSV export (no quoted fields expected) into rows of fields, header first.
pub fn csv_rows(text: &str) -> Vec<Vec<String>> {
    text.split("\r\n")
        .filter(|line| !line.is_empty())
        .map(|line| line.split(',').map(str::to_owned).collect())
        .collect()
}

/// A fresh random UUID v4 for eventId.
pub fn uuid() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).unwrap();
    usage_core::EventId::from_random_bytes(bytes).to_string()
}
pub mod internet;
pub mod licences;
pub mod postgres;
pub mod vendor;
pub mod webhooks;
