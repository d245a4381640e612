//! PostgreSQL as the sync target, from a connection string (`SYNC_POSTGRES_URL`). Works through
//! Supabase's session and transaction poolers: nothing relies on prepared statements. Each
//! upsert is one statement on the unnamed statement (`query_typed`, one round trip) whose only
//! parameter is the batch as JSON text, expanded server-side by `jsonb_populate_recordset`, so
//! no value is ever spliced into SQL. Pooled (deadpool), with the same limits as the REST client.

use super::postgres_tls::{MakeRustls, TlsSetupError};
use super::sync_target::{SyncError, classify_sqlstate, redact};
use crate::config::SyncConfig;
use crate::domain::sync_table::{SyncedTable, TABLES};
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::time::Duration;
use tokio_postgres::config::SslMode;
use tokio_postgres::types::Type;

#[derive(Debug, thiserror::Error)]
pub enum PostgresSetupError {
    /// The parser's message names the option at fault, never the password.
    #[error("SYNC_POSTGRES_URL is not a valid PostgreSQL connection string: {0}")]
    Url(String),
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    #[error("cannot build the PostgreSQL connection pool: {0}")]
    Pool(String),
}

pub struct PostgresClient {
    pool: Pool,
    /// Upsert statement per table, built once from the catalog.
    upserts: HashMap<&'static str, String>,
    statement_timeout: Duration,
    idle_timeout: Duration,
    /// Idle connections kept at most (the rest of `max_connections` close once idle).
    idle_connections: usize,
}

impl PostgresClient {
    pub fn new(url: &SecretString, config: &SyncConfig) -> Result<Self, PostgresSetupError> {
        let ms = Duration::from_millis;
        let mut pg: tokio_postgres::Config = url
            .expose_secret()
            .parse()
            .map_err(|e: tokio_postgres::Error| PostgresSetupError::Url(e.to_string()))?;
        pg.connect_timeout(ms(config.connect_timeout_ms))
            .application_name("frontdesk-sync")
            .keepalives(true);
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match pg.get_ssl_mode() {
            SslMode::Disable => Manager::from_config(pg, tokio_postgres::NoTls, manager_config),
            _ => {
                let tls = MakeRustls::new(config.postgres_ca_file.as_deref())?;
                Manager::from_config(pg, tls, manager_config)
            }
        };
        let pool = Pool::builder(manager)
            .max_size(config.max_connections)
            .wait_timeout(Some(ms(config.pool_timeout_ms)))
            .create_timeout(Some(ms(config.connect_timeout_ms)))
            .recycle_timeout(Some(ms(config.read_timeout_ms)))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| PostgresSetupError::Pool(e.to_string()))?;
        Ok(Self {
            pool,
            upserts: TABLES.iter().map(|t| (t.name, upsert_sql(t))).collect(),
            statement_timeout: ms(config.write_timeout_ms + config.read_timeout_ms),
            idle_timeout: Duration::from_secs(config.idle_timeout_secs),
            idle_connections: config.idle_connections,
        })
    }

    /// Runs one statement whose only parameter is `param` (text); returns the first column of
    /// the first row, if the statement returns rows. A connection that timed out mid-statement
    /// is thrown away, not returned to the pool.
    async fn run(
        &self,
        sql: &str,
        param: &(dyn tokio_postgres::types::ToSql + Sync),
        ty: Type,
    ) -> Result<Option<String>, SyncError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        super::note_remote_call();
        match tokio::time::timeout(
            self.statement_timeout,
            client.query_typed(sql, &[(param, ty)]),
        )
        .await
        {
            Ok(Ok(rows)) => Ok(match rows.first() {
                Some(row) => row
                    .try_get(0)
                    .map_err(|e| SyncError::retryable(e.to_string()))?,
                None => None,
            }),
            Ok(Err(e)) => Err(query_error(&e)),
            Err(_) => {
                drop(deadpool_postgres::Object::take(client));
                Err(SyncError::retryable("PostgreSQL did not answer in time"))
            }
        }
    }

    pub async fn upsert(&self, table: &SyncedTable, rows: &str) -> Result<(), SyncError> {
        let sql = self
            .upserts
            .get(table.name)
            .ok_or_else(|| SyncError::Misconfigured(format!("{} is not synced", table.name)))?;
        self.run(sql, &rows, Type::TEXT).await.map(|_| ())
    }

    pub async fn fetch(
        &self,
        table: &SyncedTable,
        column: &str,
        values: &[String],
    ) -> Result<Vec<serde_json::Value>, SyncError> {
        let sql = format!(
            "SELECT coalesce(json_agg(t), '[]'::json)::text FROM (SELECT * FROM {} \
             WHERE {}::text = ANY($1) ORDER BY id) t",
            qualified(table),
            quote(column)
        );
        let json = self
            .run(&sql, &values, Type::TEXT_ARRAY)
            .await?
            .unwrap_or_else(|| "[]".into());
        serde_json::from_str(&json)
            .map_err(|_| SyncError::retryable("PostgreSQL returned rows that are not JSON"))
    }

    /// Runs a script of several statements (the central schema) with the simple protocol.
    pub async fn execute_script(&self, sql: &str) -> Result<(), SyncError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        super::note_remote_call();
        client.batch_execute(sql).await.map_err(|e| query_error(&e))
    }

    /// How many rows the central copy of `table` holds.
    pub async fn count(&self, table: &SyncedTable) -> Result<i64, SyncError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let sql = format!("SELECT count(*) FROM {}", qualified(table));
        let rows = client
            .simple_query(&sql)
            .await
            .map_err(|e| query_error(&e))?;
        rows.iter()
            .find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0)?.parse().ok(),
                _ => None,
            })
            .ok_or_else(|| SyncError::retryable("PostgreSQL returned no count"))
    }

    /// Closes connections idle for longer than the idle timeout, and idle ones beyond the
    /// idle limit, as the HTTP client's pool does. Connections in use are not touched.
    pub fn close_idle(&self) {
        let (idle_for, limit) = (self.idle_timeout, self.idle_connections);
        let mut kept = 0;
        self.pool.retain(|_, metrics| {
            let keep = metrics.last_used() < idle_for && kept < limit;
            kept += usize::from(keep);
            keep
        });
    }

    /// Connections open now (in use and idle).
    pub fn open_connections(&self) -> usize {
        self.pool.status().size
    }
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

fn qualified(table: &SyncedTable) -> String {
    format!("{}.{}", quote(table.schema), quote(table.name))
}

/// `INSERT … SELECT … FROM jsonb_populate_recordset(NULL::<table>, $1) ON CONFLICT (id) DO
/// UPDATE`: the JSON array is turned into rows of the central table's own type, so uuid,
/// timestamptz, boolean, jsonb and bytea (`\x…`) values are parsed by PostgreSQL itself.
fn upsert_sql(table: &SyncedTable) -> String {
    let columns: Vec<String> = table.remote_columns().iter().map(|c| quote(c)).collect();
    let updates: Vec<String> = columns
        .iter()
        .filter(|c| c.as_str() != "\"id\"")
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect();
    let list = columns.join(", ");
    format!(
        "INSERT INTO {t} ({list}) SELECT {list} FROM jsonb_populate_recordset(NULL::{t}, $1::jsonb) \
         ON CONFLICT (\"id\") DO UPDATE SET {}",
        updates.join(", "),
        t = qualified(table)
    )
}

fn pool_error(e: PoolError) -> SyncError {
    match e {
        PoolError::Backend(e) => query_error(&e),
        PoolError::Timeout(_) => {
            SyncError::retryable("no PostgreSQL connection became free in time")
        }
        other => SyncError::retryable(format!("PostgreSQL connection pool: {other}")),
    }
}

fn query_error(e: &tokio_postgres::Error) -> SyncError {
    if let Some(db) = e.as_db_error() {
        let message = redact(db.message());
        return classify_sqlstate(db.code().code(), &message)
            .unwrap_or_else(|| SyncError::Rejected(format!("{}: {message}", db.code().code())));
    }
    if certificate_problem(e) {
        return SyncError::Misconfigured(
            "the PostgreSQL server's certificate is not trusted; set sync.postgres_ca_file \
             (SYNC_POSTGRES_CA_FILE) to the CA that signed it"
                .into(),
        );
    }
    // tokio-postgres' own messages ("error connecting to server: Connection refused") name no
    // credentials.
    SyncError::retryable(format!("PostgreSQL: {e}"))
}

fn certificate_problem(e: &tokio_postgres::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(rustls::Error::InvalidCertificate(_)) =
                inner.downcast_ref::<rustls::Error>()
        {
            return true;
        }
        source = s.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::sync_table::find;

    #[test]
    fn the_upsert_names_every_column_and_updates_all_but_the_id() {
        let sql = upsert_sql(find("handoffs").unwrap());
        assert!(sql.starts_with("INSERT INTO \"core\".\"handoffs\" (\"id\", \"clinic_id\""));
        assert!(sql.contains("\"note_sealed\", \"note\""));
        assert!(sql.contains("jsonb_populate_recordset(NULL::\"core\".\"handoffs\", $1::jsonb)"));
        assert!(sql.contains("\"note\" = EXCLUDED.\"note\""));
        assert!(!sql.contains("\"id\" = EXCLUDED"));
    }

    #[test]
    fn a_connection_string_error_does_not_repeat_the_password() {
        let url = SecretString::from("postgres://u:s3cret@host:notaport/db");
        let err = PostgresClient::new(&url, &SyncConfig::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("SYNC_POSTGRES_URL"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }
}
