//! A strict stand-in for Supabase's REST API (PostgREST) on 127.0.0.1:0. It refuses what the
//! real one refuses, with the real bodies: a wrong `apikey` or bearer token (401), a schema
//! missing from `Content-Profile`/`Accept-Profile` (406, PGRST106), objects with different keys
//! in one batch (400, PGRST102), the same id twice in one upsert (500, 21000). It also insists on
//! `Prefer: resolution=merge-duplicates,return=minimal` and `on_conflict=id`, which the real one
//! would merely handle differently. Scripted replies (500, 429 with Retry-After, a hang, 201)
//! come first; otherwise rows are merged into memory by id.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const KEY: &str = "test-service-role-key";

#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    TooMany {
        retry_after_secs: u64,
    },
    /// 503 with `Retry-After`, as a gateway in front of PostgREST answers during maintenance.
    Unavailable {
        retry_after_secs: u64,
    },
    Hang(Duration),
    Created,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub table: String,
    pub ids: Vec<String>,
    pub status: u16,
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Reply>,
    /// table → id → row
    rows: HashMap<String, BTreeMap<String, Value>>,
    requests: Vec<Request>,
    /// Rows with these ids are refused (23514), as a central CHECK would.
    poison: HashSet<String>,
    /// Requests that broke the protocol in ways the real server would not report clearly.
    violations: Vec<String>,
}

#[derive(Clone, Default)]
pub struct FakePostgrest {
    inner: Arc<Mutex<Inner>>,
    pub url: String,
}

fn schema_of(table: &str) -> &'static str {
    if table == "clinics" {
        "healthcare"
    } else {
        "core"
    }
}

fn error(status: u16, code: &str, message: &str) -> Response {
    let body = json!({ "code": code, "details": null, "hint": null, "message": message });
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

impl FakePostgrest {
    pub async fn start() -> FakePostgrest {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = FakePostgrest {
            url: format!("http://{}", listener.local_addr().unwrap()),
            ..FakePostgrest::default()
        };
        let app = Router::new()
            .route("/rest/v1/{table}", get(select).post(upsert))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        fake
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.lock().script.extend(replies);
    }

    pub fn poison(&self, id: &str) {
        self.lock().poison.insert(id.to_owned());
    }

    /// Protocol breaches seen (wrong `Prefer`, missing `on_conflict`, ...); tests expect none.
    pub fn violations(&self) -> Vec<String> {
        self.lock().violations.clone()
    }

    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }

    pub fn rows(&self, table: &str) -> BTreeMap<String, Value> {
        self.lock().rows.get(table).cloned().unwrap_or_default()
    }

    fn record(&self, method: &str, table: &str, ids: Vec<String>, status: u16) {
        self.lock().requests.push(Request {
            method: method.into(),
            table: table.into(),
            ids,
            status,
        });
    }
}

fn authorised(headers: &HeaderMap) -> bool {
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    h("apikey") == Some(KEY) && h("authorization") == Some(&format!("Bearer {KEY}"))
}

async fn upsert(
    State(fake): State<FakePostgrest>,
    Path(table): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let rows: Vec<Value> = serde_json::from_slice(&body).unwrap_or_default();
    let ids: Vec<String> = rows
        .iter()
        .map(|r| r["id"].as_str().unwrap_or("").to_owned())
        .collect();
    let reply = |status: u16, response: Response| {
        fake.record("POST", &table, ids.clone(), status);
        response
    };
    if !authorised(&headers) {
        return reply(401, error(401, "PGRST301", "Invalid API key"));
    }
    if h("content-profile") != schema_of(&table) {
        return reply(
            406,
            error(
                406,
                "PGRST106",
                "The schema must be one of the following: core, healthcare",
            ),
        );
    }
    let breaches: Vec<String> = [
        (h("prefer") != "resolution=merge-duplicates,return=minimal")
            .then(|| format!("Prefer: {:?}", h("prefer"))),
        (query.get("on_conflict").map(String::as_str) != Some("id"))
            .then(|| format!("on_conflict: {:?}", query.get("on_conflict"))),
        (h("content-type") != "application/json")
            .then(|| format!("Content-Type: {:?}", h("content-type"))),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !breaches.is_empty() {
        fake.lock().violations.extend(breaches.clone());
        return reply(400, error(400, "FAKE", &breaches.join("; ")));
    }
    let keys = |r: &Value| r.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
    if rows.is_empty() || rows.iter().any(|r| keys(r) != keys(&rows[0])) {
        return reply(400, error(400, "PGRST102", "All object keys must match"));
    }
    let scripted = fake.lock().script.pop_front();
    match scripted {
        Some(Reply::Status(s)) => return reply(s, error(s, "XX000", "scripted failure")),
        Some(Reply::TooMany { retry_after_secs }) => {
            return retry_after(&fake, &table, &ids, 429, retry_after_secs);
        }
        Some(Reply::Unavailable { retry_after_secs }) => {
            return retry_after(&fake, &table, &ids, 503, retry_after_secs);
        }
        Some(Reply::Hang(d)) => {
            fake.record("POST", &table, ids.clone(), 0);
            tokio::time::sleep(d).await;
            return StatusCode::CREATED.into_response();
        }
        Some(Reply::Created) | None => {}
    }
    if ids.iter().collect::<HashSet<_>>().len() != ids.len() {
        let body = json!({
            "code": "21000", "details": null,
            "hint": "Ensure that no rows proposed for insertion within the same command have duplicate constrained values.",
            "message": "ON CONFLICT DO UPDATE command cannot affect row a second time"
        });
        return reply(
            500,
            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response(),
        );
    }
    let mut inner = fake.lock();
    if ids.iter().any(|id| inner.poison.contains(id)) {
        drop(inner);
        return reply(
            400,
            error(
                400,
                "23514",
                &format!(
                    "new row for relation \"{table}\" violates check constraint \"no_poison\""
                ),
            ),
        );
    }
    let stored = inner.rows.entry(table.clone()).or_default();
    for row in rows {
        stored.insert(row["id"].as_str().unwrap_or("").to_owned(), row);
    }
    drop(inner);
    reply(201, StatusCode::CREATED.into_response())
}

async fn select(
    State(fake): State<FakePostgrest>,
    Path(table): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let profile = headers
        .get("accept-profile")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !authorised(&headers) {
        fake.record("GET", &table, vec![], 401);
        return error(401, "PGRST301", "Invalid API key");
    }
    if profile != schema_of(&table) {
        fake.record("GET", &table, vec![], 406);
        return error(
            406,
            "PGRST106",
            "The schema must be one of the following: core, healthcare",
        );
    }
    let scripted = {
        let mut inner = fake.lock();
        match inner.script.front() {
            Some(Reply::Status(s)) => {
                let s = *s;
                inner.script.pop_front();
                Some(s)
            }
            _ => None,
        }
    };
    if let Some(s) = scripted {
        fake.record("GET", &table, vec![], s);
        return error(s, "XX000", "scripted failure");
    }
    // One `column=in.(a,b)` filter, as the client sends.
    let filter = query.iter().find_map(|(k, v)| {
        let list = v.strip_prefix("in.(")?.strip_suffix(')')?;
        Some((
            k.clone(),
            list.split(',').map(str::to_owned).collect::<HashSet<_>>(),
        ))
    });
    let offset: usize = query
        .get("offset")
        .and_then(|o| o.parse().ok())
        .unwrap_or(0);
    let limit: usize = query
        .get("limit")
        .and_then(|o| o.parse().ok())
        .unwrap_or(usize::MAX);
    let rows: Vec<Value> = fake
        .rows(&table)
        .into_values()
        .filter(|r| match &filter {
            Some((column, values)) => r[column].as_str().is_some_and(|v| values.contains(v)),
            None => true,
        })
        .skip(offset)
        .take(limit)
        .collect();
    fake.record("GET", &table, vec![], 200);
    axum::Json(rows).into_response()
}

fn retry_after(
    fake: &FakePostgrest,
    table: &str,
    ids: &[String],
    status: u16,
    secs: u64,
) -> Response {
    fake.record("POST", table, ids.to_vec(), status);
    let mut r = error(status, "", "try again later");
    r.headers_mut().insert("retry-after", secs.into());
    r
}
