//! Connecting to the database (SQLite embedded by default, PostgreSQL by URL) and
//! bringing its schema up to date.

use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database URL {0:?} is not understood: use sqlite://FILE.db, a file path, or postgres://USER@HOST/DB")]
    BadUrl(String),
    #[error("could not open the database at {url}: {source}")]
    Connect { url: String, source: sea_orm::DbErr },
    #[error("could not apply the database migrations: {0}")]
    Migrate(sea_orm::DbErr),
}

/// Turns what a person may type into a URL the driver accepts: a bare path means a
/// SQLite file, and SQLite files are created when missing.
pub fn normalize_url(raw: &str) -> Result<String, DbError> {
    let raw = raw.trim();
    if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
        return Ok(raw.to_owned());
    }
    let sqlite = if let Some(rest) = raw.strip_prefix("sqlite:") {
        format!("sqlite:{rest}")
    } else if !raw.is_empty() && !raw.contains("://") {
        format!("sqlite://{raw}")
    } else {
        return Err(DbError::BadUrl(raw.to_owned()));
    };
    if sqlite.contains("mode=") || sqlite.contains(":memory:") {
        Ok(sqlite)
    } else if sqlite.contains('?') {
        Ok(format!("{sqlite}&mode=rwc"))
    } else {
        Ok(format!("{sqlite}?mode=rwc"))
    }
}

/// The database as the services use it. On SQLite every write goes through one
/// connection (the one writer path): writers queue in the pool, in process, instead of
/// meeting SQLite's file lock, so a burst of a thousand runs never sees "database is
/// locked"; reads use their own connections (WAL lets them read while it writes). On
/// PostgreSQL both are one pool: it has row locks.
#[derive(Clone, Debug)]
pub struct Db {
    read: DatabaseConnection,
    write: DatabaseConnection,
}

impl Db {
    /// For queries that only read.
    pub fn read(&self) -> &DatabaseConnection {
        &self.read
    }

    /// For every transaction or statement that writes.
    pub fn write(&self) -> &DatabaseConnection {
        &self.write
    }

    pub fn backend(&self) -> DbBackend {
        self.write.get_database_backend()
    }
}

/// Connects and applies pending migrations, after making sure the file is not the old
/// Python tool's database (`legacy`).
pub async fn connect(raw_url: &str) -> Result<Db, crate::StartError> {
    let db = open(raw_url).await?;
    crate::legacy::refuse_if_legacy(&db, raw_url).await?;
    // Several dashboards started at once on one PostgreSQL would apply the same migration
    // together (one fails: "already exists"): one at a time, under an advisory lock held
    // on a connection of its own; the next finds them applied.
    let lock =
        if db.backend() == DbBackend::Postgres { Some(migration_lock(&normalize_url(raw_url)?).await?) } else { None };
    let migrated = Migrator::up(db.write(), None).await.map_err(DbError::Migrate);
    if let Some(lock) = lock {
        use sea_orm::sqlx::Connection;
        let _ = lock.close().await;
    }
    migrated?;
    Ok(db)
}

/// The lock under which migrations run on PostgreSQL (released when the connection closes).
async fn migration_lock(url: &str) -> Result<sea_orm::sqlx::PgConnection, DbError> {
    use sea_orm::sqlx::{self, Connection};
    let failed = |e: sqlx::Error| DbError::Connect { url: redact(url), source: sea_orm::DbErr::Custom(e.to_string()) };
    let mut conn = sqlx::PgConnection::connect(url).await.map_err(failed)?;
    sqlx::query("SELECT pg_advisory_lock($1, 0)")
        .bind(crate::cluster::LOCK_MIGRATIONS)
        .execute(&mut conn)
        .await
        .map_err(failed)?;
    Ok(conn)
}

/// Connects without looking at what the database holds.
pub async fn open(raw_url: &str) -> Result<Db, DbError> {
    let url = normalize_url(raw_url)?;
    let pool = |max: u32| {
        let mut options = ConnectOptions::new(url.clone());
        options
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(30))
            .max_connections(max)
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|o| {
                // WAL: readers never wait for the writer. NORMAL is durable in WAL mode
                // except for the last commits on power loss. The busy timeout covers
                // other processes (a second dashboard, the migrate command).
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
            });
        options
    };
    let connect = |options: ConnectOptions| async {
        Database::connect(options).await.map_err(|source| DbError::Connect { url: redact(&url), source })
    };
    let sqlite = url.starts_with("sqlite:");
    if !sqlite {
        let shared = connect(pool(16)).await?;
        return Ok(Db { read: shared.clone(), write: shared });
    }
    let write = connect(pool(1)).await?;
    if url.contains(":memory:") {
        // Every connection to :memory: is a database of its own.
        return Ok(Db { read: write.clone(), write });
    }
    let read = connect(pool(8)).await?;
    Ok(Db { read, write })
}

/// A dashboard's claim on its SQLite file, held while it runs: SQLite serves one
/// dashboard at a time (each would check every agent and settle the other's runs), so a
/// second one refuses to start. The claim is an exclusive `flock` on `FILE-lock` beside
/// the database, not on the database itself: closing any descriptor of a file drops the
/// process's POSIX locks on it, SQLite's own included. The kernel releases it when the
/// process ends, however it ends, so a killed dashboard leaves nothing to clean up. The
/// `token` and `migrate` commands do not take it: they work beside a running dashboard.
#[derive(Debug)]
pub struct Claim {
    _file: std::fs::File,
}

/// Takes the claim on the SQLite file `raw_url` names; None for PostgreSQL and
/// in-memory databases.
pub fn claim(raw_url: &str) -> Result<Option<Claim>, crate::StartError> {
    use std::io::{Read, Seek, Write};
    let Some(path) = sqlite_path(&normalize_url(raw_url)?) else { return Ok(None) };
    let lock = format!("{path}-lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock)
        .map_err(|e| format!("cannot open {lock}, which keeps a second dashboard off this database: {e}"))?;
    match file.try_lock() {
        Ok(()) => {
            // Who holds it, for the message the next one prints.
            let _ = file.set_len(0).and_then(|()| write!(file, "{}", std::process::id())).and_then(|()| file.flush());
            Ok(Some(Claim { _file: file }))
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.rewind().and_then(|_| file.take(32).read_to_string(&mut holder));
            let holder = match holder.trim().parse::<u32>() {
                Ok(pid) => format!("another dashboard (process {pid})"),
                Err(_) => "another dashboard".to_owned(),
            };
            Err(format!(
                "{holder} is using the SQLite database {path}: SQLite serves one dashboard at a time. Stop it, or give \
                 this one another file (--database-url), or run several dashboards on one PostgreSQL \
                 (docs/deploy.md). The token and migrate commands work beside a running dashboard"
            )
            .into())
        }
        Err(std::fs::TryLockError::Error(e)) => Err(format!("cannot lock {lock}: {e}").into()),
    }
}

/// The file of a (normalized) SQLite URL; None for PostgreSQL and in-memory databases.
fn sqlite_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let memory = path.is_empty() || path == ":memory:" || query.split('&').any(|p| p == "mode=memory");
    (!memory).then(|| path.to_owned())
}

/// `configurable-agents migrate [--import-legacy]`.
pub async fn migrate_only(settings: &crate::cli::MigrateSettings) -> Result<(), crate::StartError> {
    let db = if settings.import_legacy {
        let db = open(&settings.database_url).await?;
        let report = crate::legacy::import(&db).await?;
        for (old, new) in &report.moved {
            println!("moved the old table {old} aside as {new}");
        }
        println!("imported {} agents and {} runs from the old dashboard", report.agents, report.runs);
        for skipped in &report.skipped {
            println!("skipped: {skipped}");
        }
        db
    } else {
        connect(&settings.database_url).await?
    };
    let applied = Migrator::get_applied_migrations(db.write()).await.map(|m| m.len()).unwrap_or(0);
    println!("database is up to date ({applied} migrations applied)");
    Ok(())
}

/// The URL without a password, for messages and logs.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_people_type_become_driver_urls() {
        assert_eq!(normalize_url("configurable_agents.db").unwrap(), "sqlite://configurable_agents.db?mode=rwc");
        assert_eq!(normalize_url("sqlite://x.db").unwrap(), "sqlite://x.db?mode=rwc");
        assert_eq!(normalize_url("sqlite://x.db?mode=ro").unwrap(), "sqlite://x.db?mode=ro");
        assert_eq!(normalize_url("sqlite::memory:").unwrap(), "sqlite::memory:");
        assert_eq!(normalize_url("postgres://u@h/db").unwrap(), "postgres://u@h/db");
        assert!(normalize_url("mysql://h/db").is_err());
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
    }

    #[test]
    fn the_claim_is_on_files_only() {
        assert_eq!(sqlite_path("sqlite://data/x.db?mode=rwc").as_deref(), Some("data/x.db"));
        assert_eq!(sqlite_path("sqlite:///abs/x.db?mode=rwc").as_deref(), Some("/abs/x.db"));
        assert_eq!(sqlite_path("sqlite:x.db").as_deref(), Some("x.db"));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("sqlite://x.db?mode=memory"), None);
        assert_eq!(sqlite_path("postgres://u@h/db"), None);
    }

    #[test]
    fn a_second_claim_on_one_file_is_refused_until_the_first_ends() {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("x.db").display().to_string();
        let first = claim(&url).unwrap().expect("a file is claimed");
        let error = claim(&url).unwrap_err().to_string();
        assert!(error.contains(&format!("process {}", std::process::id())), "{error}");
        assert!(error.contains("one dashboard at a time"), "{error}");
        drop(first);
        assert!(claim(&url).unwrap().is_some(), "released when the holder ends");
        assert!(claim("sqlite::memory:").unwrap().is_none());
    }
}
