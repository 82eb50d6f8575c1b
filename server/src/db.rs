//! Connecting to the database (SQLite embedded by default, PostgreSQL by URL) and
//! bringing its schema up to date.

use migrations::{Migrator, MigratorTrait};
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

/// Connects and applies pending migrations.
pub async fn connect(raw_url: &str) -> Result<DatabaseConnection, DbError> {
    let url = normalize_url(raw_url)?;
    let mut options = ConnectOptions::new(url.clone());
    options
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .max_connections(16)
        .sqlx_logging(false);
    let db = Database::connect(options)
        .await
        .map_err(|source| DbError::Connect { url: redact(&url), source })?;
    if db.get_database_backend() == DbBackend::Sqlite {
        // WAL lets the page read while the health monitor writes.
        db.execute_unprepared("PRAGMA journal_mode=WAL;")
            .await
            .map_err(|source| DbError::Connect { url: redact(&url), source })?;
    }
    Migrator::up(&db, None).await.map_err(DbError::Migrate)?;
    Ok(db)
}

pub async fn migrate_only(raw_url: &str) -> Result<(), crate::StartError> {
    let db = connect(raw_url).await?;
    let applied = Migrator::get_applied_migrations(&db).await.map(|m| m.len()).unwrap_or(0);
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
}
