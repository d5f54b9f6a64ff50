//! Licences over HTTP on the real binary and SQLite: the lifecycle with rotation,
//! read-only tokens, the audit trail and refused changes (the same scenarios run
//! on PostgreSQL in `postgres.rs`).

mod common;

use common::licences::*;
use common::*;

#[tokio::test]
async fn a_licence_is_created_rotated_and_revoked_over_http_and_the_cli_agrees() {
    let db = TestDb::sqlite();
    lifecycle(&db.url).await;
}

#[tokio::test]
async fn read_only_tokens_read_everything_and_change_nothing() {
    let db = TestDb::sqlite();
    read_only_tokens(&db.url).await;
}

#[tokio::test]
async fn every_change_is_in_the_audit_log_with_who_and_when() {
    let db = TestDb::sqlite();
    audit_trail(&db.url).await;
}

#[tokio::test]
async fn bad_changes_name_the_field_and_change_nothing() {
    let db = TestDb::sqlite();
    refused_changes(&db.url).await;
}
