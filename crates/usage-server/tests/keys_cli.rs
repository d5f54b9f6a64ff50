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
