//! Backups of an SQLite database, taken while a server writes to it, and their
//! restoration. A backup is `VACUUM INTO`: one read transaction, so the copy is
//! the database as it stood at one commit, compacted, with no `-wal` beside it;
//! it is then opened and checked with `PRAGMA integrity_check`. A restore checks
//! the file the same way and replaces the database only while no server holds
//! it: `serve` keeps a shared `flock` on the database file, which a restore's
//! exclusive one cannot take. PostgreSQL has `pg_dump` and `pg_restore`
//! (docs/DEPLOY.md).

use std::fs::{self, File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::store::{sqlite_database_file, Engine, StoreError};

/// Why a backup or restore did not happen.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The database is PostgreSQL's (or in memory).
    #[error("{0}")]
    NotSqlite(String),
    /// The backup file exists already: nothing is overwritten.
    #[error("--to {0}: the file exists; choose a new name (nothing is overwritten)")]
    TargetExists(PathBuf),
    /// The file to restore does not exist.
    #[error("{0}: no such file")]
    NoSuchFile(PathBuf),
    /// A server has the database open.
    #[error("{0} is in use by a running server: stop it before restoring (a backup can be taken while it runs)")]
    InUse(PathBuf),
    /// The copy, or the file to restore, failed SQLite's integrity check.
    #[error("{path} failed PRAGMA integrity_check: {problems}")]
    Damaged {
        /// The file checked.
        path: PathBuf,
        /// What SQLite reported.
        problems: String,
    },
    /// The file to restore is an SQLite database, but not a usage server's.
    #[error("{0} is not a usage-server database (it has no _sqlx_migrations table)")]
    NotOurs(PathBuf),
    /// SQLite said no.
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A file could not be read, written or renamed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The database URL is not one this server reads.
    #[error(transparent)]
    Url(#[from] StoreError),
}

/// What a backup or restore produced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Copied {
    /// The file written.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// `ok`: what `PRAGMA integrity_check` answered.
    pub integrity: String,
}

/// The SQLite file of `database_url`, or why there is none.
///
/// # Errors
/// [`BackupError::NotSqlite`] for PostgreSQL or an in-memory database.
pub fn sqlite_file(database_url: &str) -> Result<PathBuf, BackupError> {
    if Engine::of_url(database_url)? == Engine::Postgres {
        return Err(BackupError::NotSqlite(
            "this is a PostgreSQL database: back it up with pg_dump and restore it with pg_restore (docs/DEPLOY.md)"
                .to_owned(),
        ));
    }
    sqlite_database_file(database_url)?
        .ok_or_else(|| BackupError::NotSqlite("an in-memory database has nothing to back up".to_owned()))
}

/// Writes a consistent, checked copy of the database at `source` to `to`, which
/// must not exist. A server may be writing to `source` meanwhile.
///
/// # Errors
/// When `to` exists, the copy fails or the copy fails its integrity check (it is then removed).
pub fn backup(source: &Path, to: &Path) -> Result<Copied, BackupError> {
    if to.exists() {
        return Err(BackupError::TargetExists(to.to_owned()));
    }
    // Not created if missing: a typo in the path is an error, not an empty backup.
    let connection = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    connection.busy_timeout(std::time::Duration::from_secs(30))?;
    let target = to.to_str().ok_or_else(|| io(to)(std::io::Error::other("the path is not UTF-8")))?;
    connection.execute("VACUUM INTO ?1", [target])?;
    drop(connection);
    match check(to) {
        Ok(copied) => Ok(copied),
        Err(err) => {
            let _ = fs::remove_file(to);
            Err(err)
        }
    }
}

/// Replaces the database at `target` with the checked copy at `from`, unless a
/// server holds `target`. The old database's `-wal` and `-shm` files go with it.
///
/// # Errors
/// When `from` is missing, damaged or not a usage-server database, or a server holds `target`.
pub fn restore(from: &Path, target: &Path) -> Result<Copied, BackupError> {
    if !from.is_file() {
        return Err(BackupError::NoSuchFile(from.to_owned()));
    }
    check(from)?;
    // Held until the new file is in place: a server starting meanwhile waits or fails.
    let _held = match OpenOptions::new().read(true).write(true).open(target) {
        Ok(file) => Some(lock_exclusively(file, target)?),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(io(target)(err)),
    };
    let staging = target.with_extension("restoring");
    fs::copy(from, &staging).map_err(io(&staging))?;
    File::open(&staging).and_then(|file| file.sync_all()).map_err(io(&staging))?;
    for suffix in ["-wal", "-shm"] {
        let stale = PathBuf::from(format!("{}{suffix}", target.display()));
        match fs::remove_file(&stale) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(io(&stale)(err)),
        }
    }
    fs::rename(&staging, target).map_err(io(target))?;
    if let Some(dir) = target.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        File::open(dir).and_then(|dir| dir.sync_all()).map_err(io(dir))?;
    }
    check(target)
}

/// A shared lock on the database file for as long as the returned file lives:
/// `serve` holds it so that a restore cannot replace the database under it.
/// Several servers may hold it at once.
///
/// A file system without `flock` (some network or FUSE ones) only costs that
/// protection: the server starts, saying so.
///
/// # Errors
/// When the file cannot be opened, or a restore holds it.
pub fn hold_shared(database: &Path) -> Result<File, BackupError> {
    let file = File::open(database).map_err(io(database))?;
    match file.try_lock_shared() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(io(database)(std::io::Error::other(
            "a restore is replacing this database; start the server once it is done",
        ))),
        Err(TryLockError::Error(error)) => {
            tracing::warn!(%error, "cannot lock the database file: `usage-server restore` will not see that it is in use");
            Ok(file)
        }
    }
}

fn lock_exclusively(file: File, path: &Path) -> Result<File, BackupError> {
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(BackupError::InUse(path.to_owned())),
        Err(TryLockError::Error(source)) => Err(io(path)(source)),
    }
}

/// [`BackupError::Io`] for `path`, as `map_err` takes it.
fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.to_owned();
    move |source| BackupError::Io { path, source }
}

/// `PRAGMA integrity_check` on `path`, opened read-only, and the usage server's
/// bookkeeping table in it.
fn check(path: &Path) -> Result<Copied, BackupError> {
    let connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let answers: Vec<String> =
        connection.prepare("PRAGMA integrity_check")?.query_map([], |row| row.get(0))?.collect::<Result<_, _>>()?;
    if answers != ["ok"] {
        return Err(BackupError::Damaged { path: path.to_owned(), problems: answers.join("; ") });
    }
    let ours: i64 = connection.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        [],
        |row| row.get(0),
    )?;
    if ours == 0 {
        return Err(BackupError::NotOurs(path.to_owned()));
    }
    let bytes = fs::metadata(path).map_err(io(path))?.len();
    Ok(Copied { path: path.to_owned(), bytes, integrity: "ok".to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        let connection = Connection::open(&path).unwrap();
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE _sqlx_migrations (version INTEGER); \
                 CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2);",
            )
            .unwrap();
        path
    }

    #[test]
    fn a_backup_is_checked_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let source = database(dir.path(), "usage.db");
        let to = dir.path().join("copy.db");
        let copied = backup(&source, &to).unwrap();
        assert_eq!((copied.integrity.as_str(), copied.bytes > 0), ("ok", true));
        assert!(matches!(backup(&source, &to), Err(BackupError::TargetExists(_))));
        assert!(backup(&dir.path().join("missing.db"), &dir.path().join("x.db")).is_err());
    }

    #[test]
    fn a_restore_refuses_a_held_database_and_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        let source = database(dir.path(), "usage.db");
        let copy = dir.path().join("copy.db");
        backup(&source, &copy).unwrap();
        let held = hold_shared(&source).unwrap();
        let refused = restore(&copy, &source).unwrap_err();
        assert!(matches!(refused, BackupError::InUse(_)), "{refused}");
        drop(held);
        restore(&copy, &source).unwrap();
        let foreign = dir.path().join("foreign.db");
        Connection::open(&foreign).unwrap().execute_batch("CREATE TABLE t (x INTEGER);").unwrap();
        assert!(matches!(restore(&foreign, &source), Err(BackupError::NotOurs(_))));
        fs::write(dir.path().join("junk.db"), b"not a database at all, just text").unwrap();
        assert!(restore(&dir.path().join("junk.db"), &source).is_err());
        assert!(matches!(sqlite_file("postgres://u@h/db"), Err(BackupError::NotSqlite(_))));
    }
}
