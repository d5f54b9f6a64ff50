//! The server on the public internet: each attack from issue 22, tried against
//! the real binary on loopback, and what must hold instead. Bounded in count
//! and time; clients take other loopback addresses (127.0.0.2, …) to be other
//! clients.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

fn stored_events(db: &TestDb) -> i64 {
    let connection = rusqlite::Connection::open(db.path()).unwrap();
    connection.query_row("SELECT COUNT(*) FROM usage_events", [], |row| row.get(0)).unwrap()
}

/// A socket to the server from `local` (a loopback address of its own).
fn connect_from(server: &TestServer, local: &str) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&format!("{local}:0").parse::<SocketAddr>().unwrap().into()).unwrap();
    socket.connect(&server.addr().parse::<SocketAddr>().unwrap().into()).unwrap();
    socket.into()
}

/// Reads until the server closes the connection (or `limit` passes); what it
/// sent, and how long it took.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
        }
        if started.elapsed() >= limit {
            break;
        }
    }
    (String::from_utf8_lossy(&received).into_owned(), started.elapsed())
}

#[tokio::test]
async fn a_long_or_invented_origin_is_refused_and_nothing_is_stored() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let server = TestServer::start(&db.url);
    let long = format!("{}://a.com", "x".repeat(2_000));
    for host in [long.as_str(), "ftp://a.com", "gopher://customer.com"] {
        let (status, json) = server.register(event(&key, "webcodec-conversion", host, true)).await;
        assert_eq!(status, 400, "{json}");
        let message = json["error"].as_str().unwrap();
        assert!(message.starts_with("host `"), "{message}");
        assert!(message.len() < 400, "the error body stays small: {message}");
    }
    let (status, json) = server.register(event(&key, "webcodec-conversion", &long, true)).await;
    assert_eq!(status, 400);
    assert!(json["error"].as_str().unwrap().ends_with("it must be at most 300 characters"), "{json}");
    // The browser's Origin header is held to the same rule.
    let body = event(&key, "webcodec-conversion", "https://a.com", true).to_string();
    let (status, json) = server.post_raw(REGISTER, Some("application/json"), Some(&long), body).await;
    assert_eq!(status, 400);
    assert!(json["error"].as_str().unwrap().starts_with("Origin header `"), "{json}");
    // In a batch, the bad one is refused and the good one counted.
    let batch =
        json!([event(&key, "webcodec-conversion", &long, true), event(&key, "web-render", "https://a.com", true)]);
    let (status, json) = server.post(REGISTER_MANY, batch).await;
    assert_eq!(status, 200);
    assert_eq!(json["results"][0]["status"], 400);
    assert_eq!(json["results"][1]["classification"], "billable");
    // Extension pages are origins too.
    let extension = "chrome-extension://abcdefghijklmnopabcdefghijklmnop";
    assert_eq!(server.register_ok(event(&key, "webcodec-conversion", extension, true)).await, "billable");
    server.stop();
    assert_eq!(stored_events(&db), 2, "only the two valid registrations");
}

#[tokio::test]
async fn idle_sockets_cannot_exhaust_a_1024_file_limit() {
    let db = TestDb::sqlite();
    let server = TestServer::start_with_file_limit(&db.url, &["--header-timeout-secs", "3"], 1024);
    // 1,100 idle sockets from one address: all but 64 are refused at once.
    let idle: Vec<TcpStream> = (0..1_100).map(|_| connect_from(&server, "127.0.0.1")).collect();
    let other = TestServer::client_from("127.0.0.2");
    let started = Instant::now();
    let ready = other.get(format!("{}/readyz", server.url)).timeout(Duration::from_secs(5)).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    assert!(started.elapsed() < Duration::from_secs(2), "answered while 1,100 sockets were open");
    drop(idle);

    // 1,100 idle sockets from 20 addresses (55 each, under the per-address cap):
    // the global cap (768) refuses the rest, fast and in words, and the idle
    // ones are closed after the header timeout.
    let idle: Vec<TcpStream> = (0..1_100).map(|i| connect_from(&server, &format!("127.0.1.{}", 1 + i % 20))).collect();
    let mut probe = connect_from(&server, "127.0.2.1");
    probe.write_all(b"GET /readyz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").unwrap();
    let (answer, took) = read_until_closed(&mut probe, Duration::from_secs(10));
    assert!(took < Duration::from_secs(2), "over the cap: answered at once ({took:?})");
    if answer.starts_with("HTTP/1.1 503") {
        assert!(answer.contains("retry-after: 5") && answer.contains("too many connections"), "{answer}");
    } else {
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    let started = Instant::now();
    let mut idle = idle;
    for stream in &mut idle {
        let left = Duration::from_secs(10).saturating_sub(started.elapsed());
        let (_, _) = read_until_closed(stream, left.max(Duration::from_millis(1)));
    }
    assert!(started.elapsed() < Duration::from_secs(8), "idle sockets closed by the header timeout");
    let ready = TestServer::client_from("127.0.2.2").get(format!("{}/readyz", server.url)).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    server.stop();
}

#[tokio::test]
async fn half_sent_requests_are_closed_after_their_timeouts() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let server = TestServer::start_with(&db.url, &["--header-timeout-secs", "2", "--body-timeout-secs", "2"]);
    let body = event(&key, "webcodec-conversion", "https://a.com", true).to_string();

    // Headers never finished.
    let mut headers_only = connect_from(&server, "127.0.0.1");
    headers_only.write_all(format!("POST {REGISTER} HTTP/1.1\r\nhost: x\r\ncontent-type: app").as_bytes()).unwrap();
    // A body shorter than its Content-Length.
    let mut short_body = connect_from(&server, "127.0.0.1");
    let head = format!(
        "POST {REGISTER} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    short_body.write_all(head.as_bytes()).unwrap();
    short_body.write_all(&body.as_bytes()[..10]).unwrap();
    // A chunked body that never ends.
    let mut endless = connect_from(&server, "127.0.0.1");
    endless
        .write_all(
            format!("POST {REGISTER} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{{\"a\":\r\n")
                .as_bytes(),
        )
        .unwrap();
    // An idle keep-alive connection after one request.
    let mut idle = connect_from(&server, "127.0.0.1");
    idle.write_all(b"GET /livez HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();

    // Each read on its own thread, timed from the same start.
    let started = Instant::now();
    let readers: Vec<_> = [
        ("headers never finished", headers_only, ""),
        ("short body", short_body, "HTTP/1.1 408"),
        ("endless chunked body", endless, "HTTP/1.1 408"),
        ("idle keep-alive", idle, "HTTP/1.1 200"),
    ]
    .into_iter()
    .map(|(name, mut stream, expected)| {
        std::thread::spawn(move || {
            let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(8));
            (name, answer, started.elapsed(), expected)
        })
    })
    .collect();
    for reader in readers {
        let (name, answer, took, expected) = reader.join().unwrap();
        assert!(took >= Duration::from_millis(1500) && took < Duration::from_secs(5), "{name}: closed after {took:?}");
        assert!(answer.starts_with(expected), "{name}: {answer}");
        if expected.ends_with("408") {
            assert!(answer.contains("the request body did not arrive within 2 s"), "{name}: {answer}");
        }
    }
    server.stop();
    assert_eq!(stored_events(&db), 0);
}

#[tokio::test]
async fn sigterm_with_a_hung_client_exits_within_the_deadline_and_keeps_what_was_acknowledged() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let mut server = TestServer::start_with(&db.url, &["--shutdown-timeout-secs", "2", "--body-timeout-secs", "60"]);
    for _ in 0..5 {
        server.register_ok(event(&key, "webcodec-conversion", "https://a.com", true)).await;
    }
    // A request whose body never comes, and a connection that never finishes its headers.
    let mut hung = connect_from(&server, "127.0.0.1");
    hung.write_all(
        format!(
            "POST {REGISTER} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{"
        )
        .as_bytes(),
    )
    .unwrap();
    let mut half = connect_from(&server, "127.0.0.1");
    half.write_all(b"GET /livez HTTP/1.1\r\nhost").unwrap();
    // The hung request is the sixth the server starts processing.
    for _ in 0..6 {
        server.wait_for_log("request started", Duration::from_secs(10));
    }
    let started = Instant::now();
    server.terminate();
    let status = server.wait_exit(Duration::from_secs(6)).expect("the server exited within the deadline");
    assert!(status.success(), "{status}");
    assert!(started.elapsed() >= Duration::from_millis(1500), "it waited for the request under way");
    let server = TestServer::start(&db.url);
    assert_eq!(server.usage(&key.secret, None).await["webcodecConversions"], counts(5, 0, 0));
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_secret_keys_at_high_concurrency_are_401_or_503_never_500() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let server = TestServer::start_with_file_limit(&db.url, &[], 1024);
    let clients: Vec<reqwest::Client> = (1..=12).map(|i| TestServer::client_from(&format!("127.0.3.{i}"))).collect();
    let mut requests = Vec::new();
    for i in 0..720 {
        let client = clients[i % clients.len()].clone();
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).unwrap();
        let secret: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        let url = format!("{}{GET_USAGE}", server.url);
        let body = json!({"apiKey": format!("rm_sec_{secret}")});
        let breakdown = format!("{}{BREAKDOWN}", server.url);
        requests.push(tokio::spawn(async move {
            let response = if i % 2 == 0 {
                client.post(url).json(&body).send().await
            } else {
                client.get(breakdown).bearer_auth(format!("rm_sec_{secret}")).send().await
            };
            match response {
                Ok(response) => response.status().as_u16(),
                Err(err) => panic!("no answer: {err}"),
            }
        }));
    }
    let mut statuses = std::collections::BTreeMap::new();
    for request in requests {
        *statuses.entry(request.await.unwrap()).or_insert(0) += 1;
    }
    assert!(statuses.keys().all(|status| [401, 503].contains(status)), "{statuses:?}");
    assert!(statuses.get(&401).copied().unwrap_or(0) > 0, "{statuses:?}");
    // The real key still reads, promptly.
    let started = Instant::now();
    server.usage(&key.secret, None).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    server.stop();
}

#[tokio::test]
async fn a_flood_with_a_copied_key_waits_only_for_itself() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let server = TestServer::start_with(&db.url, &["--rate-limit-per-key", "300"]);
    let attacker = TestServer::client_from("127.0.0.2");
    let licensee = TestServer::client_from("127.0.0.3");
    let victim_event = event(&key, "webcodec-conversion", "https://victim-customer.com", true);
    let batch: Vec<Value> = (0..100).map(|_| victim_event.clone()).collect();
    // Limits count events: three batches of 100 spend the attacker's 300.
    let mut refused = 0;
    for _ in 0..4 {
        let response = attacker.post(format!("{}{REGISTER_MANY}", server.url)).json(&batch).send().await.unwrap();
        let json: Value = response.json().await.unwrap();
        refused += json["results"].as_array().unwrap().iter().filter(|r| r["status"] == 429).count();
    }
    assert_eq!(refused, 100, "the fourth batch of 100 is over the 300");
    for _ in 0..10 {
        let response = licensee.post(format!("{}{REGISTER}", server.url)).json(&victim_event).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "the licensee's own address is not limited by the flood");
    }
    server.stop();
}

#[tokio::test]
async fn forwarded_for_cannot_be_spoofed_behind_a_trusted_proxy() {
    let db = TestDb::sqlite();
    let server =
        TestServer::start_with(&db.url, &["--rate-limit-per-address", "1", "--trusted-proxy", "127.0.0.0/8,::1/128"]);
    let send = |forwarded: &'static str| {
        server
            .client
            .post(format!("{}{REGISTER}", server.url))
            .header("x-forwarded-for", forwarded)
            .json(&event_with_api_key(Value::Null, "https://pirate.com", true))
            .send()
    };
    // The proxy (127.0.0.1) appended 203.0.113.9; the client made up what is left of it.
    assert_eq!(send("1.1.1.1, 203.0.113.9").await.unwrap().status().as_u16(), 200);
    assert_eq!(
        send("2.2.2.2, 203.0.113.9").await.unwrap().status().as_u16(),
        429,
        "a new made-up entry changes nothing"
    );
    // Two proxies in the trusted range: the first address outside it is the client.
    assert_eq!(send("9.9.9.9, 203.0.113.10, 127.0.0.5").await.unwrap().status().as_u16(), 200);
    assert_eq!(send("203.0.113.10, 127.0.0.6").await.unwrap().status().as_u16(), 429);
    server.stop();
}

#[tokio::test]
async fn static_files_refuse_dotfiles_and_links_out_and_pages_carry_security_headers() {
    let db = TestDb::sqlite();
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("index.html"), "<!doctype html><title>demo</title>").unwrap();
    std::fs::write(site.path().join(".env"), "SECRET=1").unwrap();
    std::fs::create_dir(site.path().join(".git")).unwrap();
    std::fs::write(site.path().join(".git/config"), "[core]").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", site.path().join("passwd")).unwrap();
    std::os::unix::fs::symlink("/etc", site.path().join("etc")).unwrap();
    let server = TestServer::start_with(&db.url, &["--static", site.path().to_str().unwrap()]);
    let page = server.get("/", "", None).await;
    assert_eq!(page.status, 200);
    let header = |name: &str| page.headers.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let csp = header("content-security-policy");
    assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval'") && !csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("referrer-policy"), "no-referrer");
    for path in ["/.env", "/.git/config", "/passwd", "/etc/passwd", "/%2eenv", "/assets/../.env"] {
        let answer = server.get(path, "", None).await;
        assert_eq!(answer.status, 404, "{path}: {}", answer.text);
        assert!(!answer.text.contains("SECRET") && !answer.text.contains("root:"), "{path}");
    }
    // API answers are nosniff too.
    assert_eq!(server.get("/livez", "", None).await.headers["x-content-type-options"], "nosniff");
    server.stop();
}

#[test]
fn database_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let db = TestDb::sqlite();
    create_key(&db.url, "acme");
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&db.path()), 0o600);
    // A file an earlier version left readable is tightened when opened.
    std::fs::set_permissions(db.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = TestServer::start(&db.url);
    for suffix in ["", "-wal", "-shm"] {
        let path = std::path::PathBuf::from(format!("{}{suffix}", db.path().display()));
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    server.stop();
}

/// A small tmpfs this test mounts (it must run as root), unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> Option<SmallDisk> {
        let uid = std::process::Command::new("id").arg("-u").output().unwrap().stdout;
        if String::from_utf8_lossy(&uid).trim() != "0" {
            eprintln!("skipped: mounting a tmpfs needs root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m,mode=0700"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "mount -t tmpfs failed");
        Some(SmallDisk { dir })
    }

    /// Fills what is left with one file; returns its path.
    fn fill(&self) -> std::path::PathBuf {
        let path = self.dir.path().join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        let small = [0u8; 512];
        while file.write_all(&small).is_ok() {}
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

#[tokio::test]
async fn a_full_disk_is_503_with_retry_after_and_nothing_acknowledged_is_lost() {
    let Some(disk) = SmallDisk::mount(8) else { return };
    let path = disk.dir.path().join("usage.db");
    let url = format!("sqlite://{}", path.display());
    let key = create_key(&url, "acme");
    let server = TestServer::start(&url);
    let register = |id: &str| {
        let mut body = event(&key, "webcodec-conversion", "https://a.com", true);
        body["eventId"] = json!(id);
        server.client.post(format!("{}{REGISTER}", server.url)).json(&body).send()
    };
    let filler = disk.fill();
    let mut acknowledged = Vec::new();
    let mut unavailable = 0;
    for _ in 0..5_000 {
        let id = uuid();
        let response = register(&id).await.unwrap();
        match response.status().as_u16() {
            200 => acknowledged.push(id),
            503 => {
                assert_eq!(response.headers()["retry-after"], "5");
                let json: Value = response.json().await.unwrap();
                assert!(json["error"].as_str().unwrap().contains("nothing of this request was stored"), "{json}");
                unavailable += 1;
                if unavailable == 50 {
                    break;
                }
            }
            status => panic!("{status}: {}", response.text().await.unwrap()),
        }
    }
    assert_eq!(unavailable, 50, "the full disk was noticed ({} acknowledged)", acknowledged.len());
    let readyz = server.get("/readyz", "", None).await;
    assert_eq!(readyz.status, 503, "{}", readyz.text);
    assert!(readyz.text.contains("not ready: the database cannot be written"), "{}", readyz.text);
    assert_eq!(server.get("/livez", "", None).await.status, 200);
    assert!(server.count_log_lines("database unavailable") <= 2, "the log is throttled");

    // Space returns: registrations are stored again.
    std::fs::remove_file(filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let id = uuid();
        if register(&id).await.unwrap().status().as_u16() == 200 {
            acknowledged.push(id);
            break;
        }
        assert!(Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await; // past readiness's 1 s cache
    assert_eq!(server.get("/readyz", "", None).await.status, 200);

    server.stop();

    let connection = rusqlite::Connection::open(&path).unwrap();
    let stored: std::collections::HashSet<String> = connection
        .prepare("SELECT event_id FROM usage_events")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(acknowledged.iter().all(|id| stored.contains(id)), "every acknowledged event is stored");
    assert_eq!(stored.len(), acknowledged.len(), "and nothing that was answered 503");
}

#[tokio::test]
async fn a_flood_of_invented_origins_is_folded_into_one_row_and_counted() {
    let db = TestDb::sqlite();
    common::internet::invented_origins_fold(&db.url).await;
    // The rollups hold 101 origins per account, whatever the flood's size.
    let connection = rusqlite::Connection::open(db.path()).unwrap();
    for table in ["rollup_hourly", "rollup_daily", "rollup_monthly"] {
        let origins: i64 = connection
            .query_row(&format!("SELECT COUNT(DISTINCT origin) FROM {table} WHERE key_id = 0"), [], |row| row.get(0))
            .unwrap();
        assert_eq!(origins, 101, "{table}");
    }
}

/// A process's anonymous resident memory (its heap, not the database pages
/// SQLite maps from the file), in KiB.
fn anon_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|line| line.starts_with("RssAnon:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Samples [`anon_rss_kib`] every 20 ms until dropped; the highest it saw.
struct PeakSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl PeakSampler {
    fn start(pid: u32) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(anon_rss_kib(pid));
                std::thread::sleep(Duration::from_millis(20));
            }
            peak.max(anon_rss_kib(pid))
        });
        PeakSampler { stop, thread: Some(thread) }
    }

    fn peak(mut self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

#[tokio::test]
async fn an_export_of_a_million_rows_streams_in_flat_memory() {
    let db = TestDb::sqlite();
    create_key(&db.url, "acme");
    let admin = create_admin_token(&db.url, "vendor");
    // A fixture written straight into the daily rollup, as the writer would have
    // written it: 12,500 origins a day for 80 days before today.
    let today = now_ms() / 86_400_000 * 86_400_000;
    let connection = rusqlite::Connection::open(db.path()).unwrap();
    connection
        .execute(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999999) \
             INSERT INTO rollup_daily (key_id, day_ms, origin, event_kind, billable, development, failed) \
             SELECT 1, ?1 - (1 + i / 12500) * 86400000, 'https://site-' || (i % 12500) || '.example.com', \
                    'webcodec-conversion', 1 + i % 7, 0, 0 FROM n",
            [today],
        )
        .unwrap();
    drop(connection);
    let server = TestServer::start(&db.url);
    // Warm up: what the server holds before any export.
    server.get_ok(ADMIN_USAGE, "", &admin).await;
    let before = anon_rss_kib(server.pid());
    let sampler = PeakSampler::start(server.pid());
    let since = today - 85 * 86_400_000;
    let response =
        server.client.get(format!("{}{ADMIN_CSV}?since={since}", server.url)).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let (mut lines, mut bytes) = (0u64, 0u64);
    let mut stream = response;
    while let Some(chunk) = stream.chunk().await.unwrap() {
        bytes += chunk.len() as u64;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
    }
    assert_eq!(lines, 1_000_001, "a header and a million rows");
    let growth_kib = sampler.peak().saturating_sub(before);
    eprintln!("export: {bytes} bytes; peak anonymous RSS grew {growth_kib} KiB (from {before} KiB)");
    assert!(bytes > 60_000_000);
    assert!(growth_kib < 40 * 1024, "memory follows one day's rows, not the export: grew {growth_kib} KiB");
    server.stop();
}

#[tokio::test]
async fn a_copied_key_on_another_site_is_shown_never_billed_and_cannot_block_the_licensee() {
    let db = TestDb::sqlite();
    common::internet::copied_key_on_another_site(&db.url).await;
}

#[tokio::test]
async fn a_read_only_database_is_503_for_writes_and_still_answers_reads() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    let server = TestServer::start(&format!("{}?mode=ro", db.url));
    let (status, json) = server.register(event(&key, "webcodec-conversion", "https://a.com", true)).await;
    assert_eq!(status, 503, "{json}");
    assert!(json["error"].as_str().unwrap().contains("nothing of this request was stored"), "{json}");
    let readyz = server.get("/readyz", "", None).await;
    assert_eq!(readyz.status, 503);
    assert_eq!(readyz.headers["retry-after"], "5");
    assert!(readyz.text.contains("the database cannot be written"), "{}", readyz.text);
    assert_eq!(server.usage(&key.secret, None).await["webcodecConversions"], counts(0, 0, 0));
    assert_eq!(server.get("/livez", "", None).await.status, 200);
    server.stop();
}
