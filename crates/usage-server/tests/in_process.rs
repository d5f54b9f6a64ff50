//! Handler logic through `app().oneshot(…)`, without a socket, on a real SQLite file.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use usage_server::http::{app, AppState, ServerOptions};
use usage_server::keys::{hash_credential, NewKeyPair};
use usage_server::store::{Actor, NewKey, Store};

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.path().join("u.db").display())).await.unwrap();
    (dir, store)
}

async fn call(store: &Store, method: &str, path: &str, content_type: &str, body: String) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    let response = app(AppState::new(store.clone(), ServerOptions::default())).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn register_then_read_in_process() {
    let (_dir, store) = store().await;
    let pair = NewKeyPair::generate().unwrap();
    let key = NewKey {
        name: "acme".into(),
        public_key: pair.public_key.clone(),
        secret_key_hash: hash_credential(&pair.secret_key),
        monthly_limit: None,
        allowed_origins: Default::default(),
    };
    store.create_licence(key, &Actor::Cli).await.unwrap();
    let body =
        json!({"event": "webcodec-conversion", "apiKey": pair.public_key, "host": "https://a.com", "succeeded": true});
    let (status, json) =
        call(&store, "POST", "/api/track/register-usage-point", "application/json", body.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json, json!({"success": true, "billable": true, "classification": "billable"}));
    let query = json!({"apiKey": pair.secret_key, "since": null});
    let (status, json) = call(&store, "POST", "/api/track/get-usage", "application/json", query.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["webcodecConversions"], json!({"billable": 1, "development": 0, "failed": 0}));
}

#[tokio::test]
async fn a_closed_database_is_503_without_internals_and_the_process_still_lives() {
    let (_dir, store) = store().await;
    let pair = NewKeyPair::generate().unwrap();
    store.close().await;
    let body =
        json!({"event": "webcodec-conversion", "apiKey": pair.public_key, "host": "https://a.com", "succeeded": true});
    let (status, json) =
        call(&store, "POST", "/api/track/register-usage-point", "application/json", body.to_string()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let message = json["error"].as_str().unwrap();
    assert!(message.starts_with("the usage server cannot use its database right now"), "{message}");
    assert!(!message.contains("closed"), "no internals: {message}");
    for path in ["/healthz", "/readyz"] {
        let (status, json) = call(&store, "GET", path, "text/plain", String::new()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(json["success"], false);
    }
    let (status, _) = call(&store, "GET", "/livez", "text/plain", String::new()).await;
    assert_eq!(status, StatusCode::OK);
}
