//! `usage-server keys …` against a real SQLite file.

mod common;

use common::*;

#[test]
fn create_prints_a_key_pair_once_and_stores_the_secret_only_hashed() {
    let db = TestDb::sqlite();
    let key = create_key(&db.url, "acme");
    assert!(key.public.starts_with("rm_pub_") && key.public.len() >= 7 + 32, "128 bits: {}", key.public);
    assert!(key.secret.starts_with("rm_sec_") && key.secret.len() >= 7 + 32, "{}", key.secret);

    // The secret appears nowhere in the database files; its SHA-256 does.
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(db.dir.path()).unwrap() {
        stored.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let stored = String::from_utf8_lossy(&stored);
    assert!(!stored.contains(&key.secret));
    assert!(!stored.contains(key.secret.trim_start_matches("rm_sec_")));
    assert!(stored.contains(&usage_server::keys::hash_credential(&key.secret)));
    assert!(stored.contains(&key.public));
}

#[test]
fn list_never_prints_secrets_and_revoke_marks_the_key() {
    let db = TestDb::sqlite();
    let acme = create_key(&db.url, "acme");
    let beta = create_key(&db.url, "beta");
    let (ok, stdout, stderr) = cli(&db.url, &["keys", "revoke", "beta"]);
    assert!(ok, "{stderr}");
    let (ok, stdout_list, _) = cli(&db.url, &["keys", "list"]);
    assert!(ok);
    assert!(stdout.is_empty());
    assert!(!stdout_list.contains("rm_sec_"));
    let lines: Vec<serde_json::Value> = stdout_list.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!((lines[0]["name"].as_str(), lines[0]["publicKey"].as_str()), (Some("acme"), Some(acme.public.as_str())));
    assert!(lines[0]["revokedAtMs"].is_null());
    assert_eq!(lines[1]["publicKey"], beta.public.as_str());
    assert!(lines[1]["revokedAtMs"].as_i64().unwrap() > 0);
}

#[test]
fn mistakes_fail_with_a_clear_message() {
    let db = TestDb::sqlite();
    create_key(&db.url, "acme");
    let (ok, _, stderr) = cli(&db.url, &["keys", "create", "--name", "acme"]);
    assert!(!ok);
    assert!(stderr.contains("a key named `acme` already exists"), "{stderr}");
    let (ok, _, stderr) = cli(&db.url, &["keys", "revoke", "nobody"]);
    assert!(!ok);
    assert!(stderr.contains("no active key is named `nobody`"), "{stderr}");
    let (ok, _, stderr) = cli(&db.url, &["keys", "create", "--name", ""]);
    assert!(!ok);
    assert!(stderr.contains("--name must be"), "{stderr}");
    let (ok, _, stderr) = cli("mysql://localhost/x", &["keys", "list"]);
    assert!(!ok);
    assert!(stderr.contains("must start with sqlite: or postgres:"), "{stderr}");
}

#[test]
fn the_database_flag_overrides_the_environment() {
    let env_db = TestDb::sqlite();
    let flag_db = TestDb::sqlite();
    let (ok, _, stderr) = cli(&env_db.url, &["keys", "create", "--name", "acme", "--database", &flag_db.url]);
    assert!(ok, "{stderr}");
    assert!(flag_db.path().exists());
    assert!(!env_db.path().exists());
}

#[test]
fn allowed_origins_are_set_at_creation_changed_and_listed() {
    let db = TestDb::sqlite();
    let extra = ["--allowed-origin", "https://Acme.com", "--allowed-origin", "https://*.acme-cdn.com"];
    create_key_with(&db.url, "acme", &extra);
    create_key(&db.url, "open");
    let listed = |name: &str| -> serde_json::Value {
        let (ok, stdout, _) = cli(&db.url, &["keys", "list"]);
        assert!(ok);
        let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        lines.into_iter().find(|line| line["name"] == name).unwrap()["allowedOrigins"].clone()
    };
    assert_eq!(listed("acme"), serde_json::json!(["https://acme.com", "https://*.acme-cdn.com"]));
    assert_eq!(listed("open"), serde_json::json!([]));

    let (ok, _, stderr) = cli(&db.url, &["keys", "set-allowed-origins", "open", "https://open.org"]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("key `open` now counts from https://open.org only"), "{stderr}");
    assert_eq!(listed("open"), serde_json::json!(["https://open.org"]));
    let (ok, _, stderr) = cli(&db.url, &["keys", "set-allowed-origins", "acme", "--any"]);
    assert!(ok, "{stderr}");
    assert_eq!(listed("acme"), serde_json::json!([]));

    // Mistakes name the pattern and the rule; nothing changes.
    for (args, message) in [
        (vec!["keys", "set-allowed-origins", "open", "open.org"], "must be a public web origin with its scheme"),
        (vec!["keys", "set-allowed-origins", "open", "https://a.*.org"], "may only have `*.` at the start"),
        (vec!["keys", "set-allowed-origins", "open"], "required"),
        (vec!["keys", "set-allowed-origins", "nobody", "https://x.org"], "no active key is named `nobody`"),
        (
            vec!["keys", "create", "--name", "new", "--allowed-origin", "http://localhost:3000"],
            "must be a public web origin",
        ),
    ] {
        let (ok, _, stderr) = cli(&db.url, &args);
        assert!(!ok, "{args:?}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    assert_eq!(listed("open"), serde_json::json!(["https://open.org"]));
}
