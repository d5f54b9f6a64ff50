//! A throwaway PostgreSQL server: `initdb` into a temporary directory, listening
//! on loopback only, stopped when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct TestPostgres {
    _dir: tempfile::TempDir,
    data: PathBuf,
    pg_ctl: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres_user: bool,
    pub url: String,
}

/// Where Debian puts the server binaries (they are not on PATH).
fn find_bin_dir() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    candidates.sort();
    candidates.pop()
}

fn run(as_postgres_user: bool, program: &Path, args: &[&str]) {
    let mut command = if as_postgres_user {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    let output = command.args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{} {args:?} failed:\n{}{}",
        program.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl TestPostgres {
    /// Starts a server, or returns `None` when PostgreSQL is not installed and the
    /// environment does not demand it (`USAGE_TEST_REQUIRE_POSTGRES=1`, set by
    /// `scripts/test.sh`, turns that into a failure).
    pub fn start() -> Option<TestPostgres> {
        let Some(bin) = find_bin_dir() else {
            assert!(
                std::env::var_os("USAGE_TEST_REQUIRE_POSTGRES").is_none(),
                "PostgreSQL is required but not installed: run scripts/setup.sh"
            );
            eprintln!("PostgreSQL not installed; skipping (scripts/setup.sh installs it)");
            return None;
        };
        // initdb refuses to run as root; run the server as the `postgres` user then.
        let as_postgres_user = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        if as_postgres_user {
            assert!(Command::new("chown").args(["postgres:postgres"]).arg(dir.path()).status().unwrap().success());
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let data_arg = data.to_str().unwrap();
        run(
            as_postgres_user,
            &bin.join("initdb"),
            &["-D", data_arg, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"],
        );
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c full_page_writes=off",
            dir.path().display()
        );
        let log = dir.path().join("postgres.log");
        run(
            as_postgres_user,
            &bin.join("pg_ctl"),
            &["-D", data_arg, "-o", &options, "-l", log.to_str().unwrap(), "-w", "start"],
        );
        Some(TestPostgres {
            _dir: dir,
            data,
            pg_ctl: bin.join("pg_ctl"),
            bin,
            port,
            as_postgres_user,
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        })
    }
}

impl TestPostgres {
    /// One of the server's client programs (`pg_dump`, `pg_restore`, `createdb`), of its version.
    pub fn program(&self, name: &str) -> PathBuf {
        self.bin.join(name)
    }

    /// The URL of another database on this server.
    pub fn url_of(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        run(self.as_postgres_user, &self.pg_ctl, &["-D", self.data.to_str().unwrap(), "-m", "immediate", "stop"]);
    }
}
