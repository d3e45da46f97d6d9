//! Test databases: one migrated template per service and migration set, cloned per test.

use runtime::ServiceDef;
use sqlx::{Connection as _, PgConnection};

async fn admin(server: &str) -> PgConnection {
    let url = format!("{}/postgres", runtime::config::server_url(server));
    PgConnection::connect(&url)
        .await
        .unwrap_or_else(|err| panic!("PostgreSQL must be running for tests (see README): {err}"))
}

/// Creates `oc_t_<service>_<random>` from the service's template and returns its URL.
pub async fn fresh(server: &str, def: &ServiceDef) -> String {
    let migrator = def.migrator();
    let template = format!(
        "oc_tpl_{}_{:016x}",
        def.name,
        runtime::db::fingerprint(&migrator)
    );
    let mut conn = admin(server).await;
    ensure_template(server, &mut conn, &template, def.name, &migrator).await;
    let name = format!(
        "oc_t_{}_{}",
        def.name,
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let mut attempts = 0;
    loop {
        let created = sqlx::query(&format!(
            "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
        ))
        .execute(&mut conn)
        .await;
        match created {
            Ok(_) => break,
            // Another test may be cloning the same template this very moment.
            Err(err) if attempts < 50 => {
                attempts += 1;
                tracing::debug!(error = %err, "template busy; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(err) => panic!("creating test database {name}: {err}"),
        }
    }
    let _ = conn.close().await;
    format!("{}/{name}", runtime::config::server_url(server))
}

async fn ensure_template(
    server: &str,
    conn: &mut PgConnection,
    template: &str,
    service: &str,
    migrator: &sqlx::migrate::Migrator,
) {
    if template_exists(conn, template).await {
        return;
    }
    // Test processes run in parallel: one builds the template, the others wait for it.
    sqlx::query("SELECT pg_advisory_lock(hashtext($1))")
        .bind(template)
        .execute(&mut *conn)
        .await
        .expect("advisory lock");
    if !template_exists(conn, template).await {
        let building = format!("{template}_building");
        let _ = sqlx::query(&format!(
            "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
        ))
        .execute(&mut *conn)
        .await;
        sqlx::query(&format!("CREATE DATABASE \"{building}\""))
            .execute(&mut *conn)
            .await
            .expect("create template");
        let url = format!("{}/{building}", runtime::config::server_url(server));
        let pool = runtime::db::pool(&url, 1).await.expect("template pool");
        runtime::db::migrate(&pool, service, migrator)
            .await
            .unwrap_or_else(|err| panic!("migrating the {service} template: {err}"));
        pool.close().await;
        // Renaming publishes the template only once it is complete.
        sqlx::query(&format!(
            "ALTER DATABASE \"{building}\" RENAME TO \"{template}\""
        ))
        .execute(&mut *conn)
        .await
        .expect("publish template");
    }
    sqlx::query("SELECT pg_advisory_unlock(hashtext($1))")
        .bind(template)
        .execute(&mut *conn)
        .await
        .expect("advisory unlock");
}

pub async fn drop_all(server: &str, urls: &[String]) {
    if urls.is_empty() {
        return;
    }
    let mut conn = admin(server).await;
    for url in urls {
        if let Some(name) = url.rsplit('/').next() {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut conn)
                .await;
        }
    }
    let _ = conn.close().await;
}

async fn template_exists(conn: &mut PgConnection, template: &str) -> bool {
    sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(template)
        .fetch_one(conn)
        .await
        .expect("query pg_database")
}
