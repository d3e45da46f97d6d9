//! Postgres: each service owns one database, created if missing, migrated at start-up from the
//! migrations embedded in its binary (the messaging tables first, then the service's own).

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{Migration, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions as _, Connection as _, PgPool};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid database URL: {0}")]
    Url(#[source] sqlx::Error),
    #[error(
        "cannot reach PostgreSQL at {server}: {source}. Start it (e.g. `pg_ctlcluster 15 main \
         start`) or point OC_DATABASE_URL at a running server"
    )]
    Unreachable {
        server: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot create database {name}: {source}")]
    Create {
        name: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("migrating {name} failed: {source}")]
    Migrate {
        name: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
}

/// Connection options for `url`, with the URL's password hidden from logs.
pub fn connect_options(url: &str) -> Result<PgConnectOptions, DbError> {
    PgConnectOptions::from_str(url)
        .map(|opts| {
            opts.log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1))
        })
        .map_err(DbError::Url)
}

/// Creates the database named in `url` on its server if it does not exist yet.
pub async fn ensure_database(url: &str) -> Result<(), DbError> {
    let opts = connect_options(url)?;
    let name = opts.get_database().unwrap_or("postgres").to_owned();
    let server = crate::config::server_url(url).to_owned();
    let admin = opts.clone().database("postgres");
    let mut conn = sqlx::PgConnection::connect_with(&admin)
        .await
        .map_err(|source| DbError::Unreachable {
            server: server.clone(),
            source,
        })?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .map_err(|source| DbError::Unreachable { server, source })?;
    if !exists {
        let create = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
        if let Err(source) = sqlx::query(&create).execute(&mut conn).await {
            // Another replica created it between our check and our CREATE.
            let raced = source
                .as_database_error()
                .and_then(|e| e.code())
                .is_some_and(|code| code == "42P04" || code == "23505");
            if !raced {
                return Err(DbError::Create { name, source });
            }
        }
    }
    let _ = conn.close().await;
    Ok(())
}

/// Whether `err` means the database cannot be reached right now (no connection within the
/// acquire timeout, a broken connection, a server shutting down) rather than that a statement
/// failed: worth retrying, and the answer to a caller is UNAVAILABLE.
pub fn is_unreachable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => true,
        // Class 08 (connection exception); 57P01..57P03 (the server is shutting down or
        // starting).
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P0")),
        _ => false,
    }
}

/// A small pool: Postgres allows 100 connections for all eight services and their tests.
pub async fn pool(url: &str, size: u32) -> Result<PgPool, DbError> {
    let opts = connect_options(url)?;
    PgPoolOptions::new()
        .max_connections(size.max(1))
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await
        .map_err(|source| DbError::Unreachable {
            server: crate::config::server_url(url).to_owned(),
            source,
        })
}

/// One migrator made of several embedded sets, applied in version order. Versions must not
/// collide: the messaging tables use small numbers, services use timestamps.
pub fn combined(sets: &[&Migrator]) -> Migrator {
    let mut migrations: Vec<Migration> = sets
        .iter()
        .flat_map(|set| set.migrations.iter().cloned())
        .collect();
    migrations.sort_by_key(|m| m.version);
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

pub async fn migrate(pool: &PgPool, name: &str, migrator: &Migrator) -> Result<(), DbError> {
    migrator.run(pool).await.map_err(|source| DbError::Migrate {
        name: name.to_owned(),
        source,
    })
}

/// A checksum of every migration in `migrator`, so that a test template is rebuilt when any
/// migration changes.
pub fn fingerprint(migrator: &Migrator) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for m in migrator.iter() {
        m.version.hash(&mut hasher);
        m.checksum.hash(&mut hasher);
    }
    hasher.finish()
}
