//! A WhatsApp gateway stand-in on loopback, speaking Evolution API v2 (`sendText`) and the
//! Cloud API (`/messages`) exactly, and strictly: a missing `apikey` or bearer token is 401,
//! a body in the wrong shape is 400 with Evolution's validation error. `frontdesk demo` and
//! `frontdesk bench` run against it; tests script its answers ("500, 500, then 201").
//! It also builds the webhook bodies a real gateway would post.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// One `sendText` (or Cloud `/messages`) the gateway accepted.
#[derive(Debug, Clone)]
pub struct ReceivedSend {
    pub instance: String,
    pub number: String,
    pub text: String,
    pub provider_message_id: String,
    pub at: Instant,
}

/// A scripted answer for the next send attempt.
#[derive(Debug, Clone)]
pub enum Scripted {
    /// Answer with this status and JSON body.
    Respond(u16, Value),
    /// Hold the request this long, then answer normally.
    Delay(Duration),
}

struct Inner {
    api_key: String,
    token: String,
    sends: Mutex<Vec<ReceivedSend>>,
    attempts: AtomicU64,
    script: Mutex<VecDeque<Scripted>>,
    events: broadcast::Sender<ReceivedSend>,
    next_id: AtomicU64,
    /// Random per instance, so two gateways (before and after a restart) never repeat an id.
    id_salt: String,
    /// Speak Evolution API v1 (`textMessage.text`) instead of v2 (`text`).
    evolution_v1: std::sync::atomic::AtomicBool,
    /// Instances whose phone is disconnected: Evolution answers their sends with 500
    /// "Connection Closed" while its other instances work.
    offline: Mutex<std::collections::HashSet<String>>,
}

#[derive(Clone)]
pub struct LocalGateway {
    addr: SocketAddr,
    inner: Arc<Inner>,
    shutdown: tokio_util::sync::CancellationToken,
}

impl LocalGateway {
    /// Starts on 127.0.0.1:0. `api_key` is Evolution's `apikey`; `token` the Cloud bearer.
    ///
    /// The gateway serves from a thread and runtime of its own, as the real one is a process
    /// of its own: on the caller's runtime its work would be charged to Frontdesk's async
    /// workers, which `frontdesk bench` measures.
    pub async fn start(api_key: &str, token: &str) -> std::io::Result<LocalGateway> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (events, _) = broadcast::channel(65_536);
        let inner = Arc::new(Inner {
            api_key: api_key.to_owned(),
            token: token.to_owned(),
            sends: Mutex::default(),
            attempts: AtomicU64::new(0),
            script: Mutex::default(),
            events,
            next_id: AtomicU64::new(1),
            id_salt: hex::encode(crate::crypto::random_bytes::<4>()).to_uppercase(),
            evolution_v1: std::sync::atomic::AtomicBool::new(false),
            offline: Mutex::default(),
        });
        let app = Router::new()
            .route("/message/sendText/{instance}", post(evolution_send))
            .route("/{phone_number_id}/messages", post(cloud_send))
            .with_state(inner.clone());
        let shutdown = tokio_util::sync::CancellationToken::new();
        let stop = shutdown.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("local-gateway".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async move { stop.cancelled().await })
                        .await;
                });
            })?;
        Ok(LocalGateway {
            addr,
            inner,
            shutdown,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// From now on, accepts only Evolution API v1 bodies and answers as v1 does.
    pub fn speak_evolution_v1(&self) {
        self.inner.evolution_v1.store(true, Ordering::Relaxed);
    }

    /// From now on, sends through `instance` fail as Evolution's do when that instance's phone
    /// is disconnected (500 "Connection Closed"); other instances are not affected.
    pub fn disconnect(&self, instance: &str) {
        self.inner
            .offline
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(instance.to_owned());
    }

    /// The id the next Evolution send this gateway accepts will get: WhatsApp may report on a
    /// message (a receipt) before the gateway has answered the send with its id.
    pub fn next_evolution_id(&self) -> String {
        message_id(
            &self.inner,
            "3EB0",
            self.inner.next_id.load(Ordering::Relaxed),
        )
    }

    /// Queues answers for the next attempts; when the script runs out, sends succeed.
    pub fn script(&self, answers: impl IntoIterator<Item = Scripted>) {
        self.inner
            .script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(answers);
    }

    pub fn sends(&self) -> Vec<ReceivedSend> {
        self.inner
            .sends
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// How many sends were accepted so far.
    pub fn sent_count(&self) -> usize {
        self.inner
            .sends
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Every request that reached a send endpoint, successful or not.
    pub fn attempts(&self) -> u64 {
        self.inner.attempts.load(Ordering::Relaxed)
    }

    /// Waits until `n` send attempts have reached the gateway (answered or still held), or
    /// the timeout passes; returns the attempts so far.
    pub async fn wait_for_attempts(&self, n: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        loop {
            let attempts = self.attempts();
            if attempts >= n || Instant::now() >= deadline {
                return attempts;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ReceivedSend> {
        self.inner.events.subscribe()
    }

    /// Waits until at least `n` sends were accepted, or the timeout passes.
    pub async fn wait_for_sends(&self, n: usize, timeout: Duration) -> Vec<ReceivedSend> {
        let deadline = Instant::now() + timeout;
        loop {
            let sends = self.sends();
            if sends.len() >= n || Instant::now() >= deadline {
                return sends;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub fn stop(&self) {
        self.shutdown.cancel();
    }
}

async fn scripted(inner: &Inner) -> Option<(u16, Value)> {
    inner.attempts.fetch_add(1, Ordering::Relaxed);
    loop {
        let next = inner
            .script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front();
        match next {
            Some(Scripted::Delay(d)) => tokio::time::sleep(d).await,
            Some(Scripted::Respond(status, body)) => return Some((status, body)),
            None => return None,
        }
    }
}

fn message_id(inner: &Inner, id_prefix: &str, n: u64) -> String {
    format!("{id_prefix}{}{n:012X}", inner.id_salt)
}

fn accept(inner: &Inner, instance: &str, number: &str, text: &str, id_prefix: &str) -> String {
    let id = message_id(
        inner,
        id_prefix,
        inner.next_id.fetch_add(1, Ordering::Relaxed),
    );
    let send = ReceivedSend {
        instance: instance.to_owned(),
        number: number.to_owned(),
        text: text.to_owned(),
        provider_message_id: id.clone(),
        at: Instant::now(),
    };
    inner
        .sends
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(send.clone());
    let _ = inner.events.send(send);
    id
}

async fn evolution_send(
    State(inner): State<Arc<Inner>>,
    Path(instance): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, Json<Value>) {
    if headers.get("apikey").and_then(|v| v.to_str().ok()) != Some(inner.api_key.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(
                json!({"status": 401, "error": "Unauthorized", "response": {"message": "Unauthorized"}}),
            ),
        );
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let v1 = inner.evolution_v1.load(Ordering::Relaxed);
    let text = match v1 {
        true => body["textMessage"]["text"].as_str(),
        false => body["text"].as_str(),
    };
    let (Some(number), Some(text)) = (body["number"].as_str(), text) else {
        let missing = if v1 { "textMessage" } else { "text" };
        return (
            StatusCode::BAD_REQUEST,
            Json(
                json!({"status": 400, "error": "Bad Request", "response": {"message": [[format!("instance requires property \"{missing}\"")]]}}),
            ),
        );
    };
    if let Some((status, body)) = scripted(&inner).await {
        return (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Json(body),
        );
    }
    if inner
        .offline
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains(&instance)
    {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(
                json!({"status": 500, "error": "Internal Server Error", "response": {"message": "Connection Closed"}}),
            ),
        );
    }
    let id = accept(&inner, &instance, number, text, "3EB0");
    if v1 {
        return (
            StatusCode::CREATED,
            Json(json!({
                "key": {"remoteJid": format!("{number}@s.whatsapp.net"), "fromMe": true, "id": id},
                "message": {"extendedTextMessage": {"text": text}},
                "messageTimestamp": chrono::Utc::now().timestamp().to_string(), "status": "PENDING"
            })),
        );
    }
    (
        StatusCode::CREATED,
        Json(json!({
            "key": {"remoteJid": format!("{number}@s.whatsapp.net"), "fromMe": true, "id": id},
            "pushName": "Você", "status": "PENDING",
            "message": {"conversation": text}, "messageType": "conversation",
            "messageTimestamp": chrono::Utc::now().timestamp(), "source": "web"
        })),
    )
}

async fn cloud_send(
    State(inner): State<Arc<Inner>>,
    Path(phone_number_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, Json<Value>) {
    let expected = format!("Bearer {}", inner.token);
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(
                json!({"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}}),
            ),
        );
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (Some("whatsapp"), Some(to), Some(text)) = (
        body["messaging_product"].as_str(),
        body["to"].as_str(),
        cloud_content(&body),
    ) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(
                json!({"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100}}),
            ),
        );
    };
    if let Some((status, body)) = scripted(&inner).await {
        return (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Json(body),
        );
    }
    let id = accept(&inner, &phone_number_id, to, &text, "wamid.");
    (
        StatusCode::OK,
        Json(
            json!({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}], "messages": [{"id": id}]}),
        ),
    )
}

/// What a Cloud API send carries, as the gateway records it: a text's body, or for a
/// template "[template <name>/<language>] <param> | <param>".
fn cloud_content(body: &Value) -> Option<String> {
    match body["type"].as_str()? {
        "text" => body["text"]["body"].as_str().map(str::to_owned),
        "template" => {
            let t = &body["template"];
            let (name, language) = (t["name"].as_str()?, t["language"]["code"].as_str()?);
            let params: Vec<&str> = match t.get("components") {
                None => Vec::new(),
                Some(components) => components[0]["parameters"]
                    .as_array()?
                    .iter()
                    .map(|p| p["text"].as_str())
                    .collect::<Option<_>>()?,
            };
            Some(format!(
                "[template {name}/{language}] {}",
                params.join(" | ")
            ))
        }
        _ => None,
    }
}

/// The `messages.upsert` webhook body Evolution v2 posts for a patient's text.
pub fn evolution_text_webhook(
    instance: &str,
    message_id: &str,
    phone: &str,
    name: &str,
    text: &str,
    timestamp: i64,
) -> Vec<u8> {
    // Typed rather than a `json!` tree: `frontdesk bench` builds one per message on the same
    // cores as the server it measures, and the tree's maps cost several times the encoding.
    #[derive(serde::Serialize)]
    struct Webhook<'a> {
        event: &'a str,
        instance: &'a str,
        data: Data<'a>,
        destination: &'a str,
        date_time: String,
        sender: &'a str,
        server_url: &'a str,
        apikey: &'a str,
    }
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Data<'a> {
        key: Key<'a>,
        push_name: &'a str,
        status: &'a str,
        message: Conversation<'a>,
        message_type: &'a str,
        message_timestamp: i64,
        source: &'a str,
    }
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Key<'a> {
        remote_jid: String,
        from_me: bool,
        id: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Conversation<'a> {
        conversation: &'a str,
    }
    serde_json::to_vec(&Webhook {
        event: "messages.upsert",
        instance,
        data: Data {
            key: Key {
                remote_jid: format!("{phone}@s.whatsapp.net"),
                from_me: false,
                id: message_id,
            },
            push_name: name,
            status: "DELIVERY_ACK",
            message: Conversation { conversation: text },
            message_type: "conversation",
            message_timestamp: timestamp,
            source: "android",
        },
        destination: "http://127.0.0.1/webhooks/evolution",
        date_time: chrono::Utc::now().to_rfc3339(),
        sender: "79990009900@s.whatsapp.net",
        server_url: "http://localhost:8080",
        apikey: "local",
    })
    .unwrap_or_default()
}
