//! An OpenAI chat-completions stand-in on loopback, for tests and `frontdesk bench`. It answers
//! in the real wire format (JSON, or server-sent events when asked to stream, with usage in
//! the last chunk) and is strict the way the real API is: a wrong key is 401, and for
//! reasoning models (gpt-5*, o-series, and any deployment name marked as one) `max_tokens`
//! and a non-default `temperature` get the real 400 bodies. Answers are scripted ("500, then a tool call, then text"); every request
//! body is recorded so tests can check what left the machine.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum LlmScript {
    /// A text answer (streamed when the request asks for it).
    Text(String),
    /// A request to call one tool with these JSON arguments.
    ToolCall(&'static str, Value),
    /// An HTTP error with OpenAI's error body.
    Status(u16),
    /// 429 with a `Retry-After` of this many seconds.
    RateLimited(f64),
    /// Never answer (until the client gives up).
    Hang,
}

struct Inner {
    api_key: String,
    script: Mutex<VecDeque<LlmScript>>,
    requests: Mutex<Vec<Value>>,
    default_text: Mutex<String>,
    /// Added before every answer (time to first token when streaming).
    delay: Mutex<Duration>,
    /// Between streamed chunks.
    chunk_gap: Mutex<Duration>,
    /// Model names served by a reasoning model whatever they look like (Azure deployments).
    reasoning_deployments: Mutex<Vec<String>>,
}

#[derive(Clone)]
pub struct LocalLlm {
    addr: std::net::SocketAddr,
    inner: Arc<Inner>,
    stop: tokio_util::sync::CancellationToken,
}

impl LocalLlm {
    pub async fn start(api_key: &str) -> std::io::Result<LocalLlm> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner {
            api_key: api_key.to_owned(),
            script: Mutex::default(),
            requests: Mutex::default(),
            default_text: Mutex::new("Спасибо за вопрос! Администратор уточнит детали.".into()),
            delay: Mutex::new(Duration::ZERO),
            chunk_gap: Mutex::new(Duration::from_millis(2)),
            reasoning_deployments: Mutex::default(),
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(inner.clone());
        let stop = tokio_util::sync::CancellationToken::new();
        let s = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { s.cancelled().await })
                .await;
        });
        Ok(LocalLlm { addr, inner, stop })
    }

    /// The value for `OPENAI_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn script(&self, answers: impl IntoIterator<Item = LlmScript>) {
        lock(&self.inner.script).extend(answers);
    }

    /// The answer given when the script is empty.
    pub fn set_default_text(&self, text: &str) {
        *lock(&self.inner.default_text) = text.to_owned();
    }

    pub fn set_delay(&self, delay: Duration) {
        *lock(&self.inner.delay) = delay;
    }

    /// Time between streamed chunks (2 ms unless set).
    pub fn set_chunk_gap(&self, gap: Duration) {
        *lock(&self.inner.chunk_gap) = gap;
    }

    /// Serves `model` with a reasoning model, as an Azure deployment of any name can be.
    pub fn serve_as_reasoning(&self, model: &str) {
        lock(&self.inner.reasoning_deployments).push(model.to_owned());
    }

    /// Every request body received, in order.
    pub fn requests(&self) -> Vec<Value> {
        lock(&self.inner.requests).clone()
    }

    pub fn stop(&self) {
        self.stop.cancel();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn error(
    status: StatusCode,
    message: &str,
    kind: &str,
    param: Option<&str>,
    code: &str,
) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": kind, "param": param, "code": code}})),
    )
        .into_response()
}

async fn completions(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let expected = format!("Bearer {}", inner.api_key);
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(expected.as_str())
    {
        return error(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided.",
            "invalid_request_error",
            None,
            "invalid_api_key",
        );
    }
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "We could not parse the JSON body of your request.",
            "invalid_request_error",
            None,
            "invalid_json",
        );
    };
    lock(&inner.requests).push(req.clone());
    let model = req["model"].as_str().unwrap_or_default();
    let reasoning = ["gpt-5", "o1", "o3", "o4"]
        .iter()
        .any(|p| model.starts_with(p))
        || lock(&inner.reasoning_deployments)
            .iter()
            .any(|m| m == model);
    if reasoning && req.get("max_tokens").is_some() {
        return error(
            StatusCode::BAD_REQUEST,
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
            "invalid_request_error",
            Some("max_tokens"),
            "unsupported_parameter",
        );
    }
    if let Some(t) = req
        .get("temperature")
        .and_then(Value::as_f64)
        .filter(|t| reasoning && *t != 1.0)
    {
        return error(
            StatusCode::BAD_REQUEST,
            &format!(
                "Unsupported value: 'temperature' does not support {t} with this model. Only the default (1) value is supported."
            ),
            "invalid_request_error",
            Some("temperature"),
            "unsupported_value",
        );
    }
    let delay = *lock(&inner.delay);
    let gap = *lock(&inner.chunk_gap);
    let next = lock(&inner.script).pop_front();
    let default_text = || LlmScript::Text(lock(&inner.default_text).clone());
    let answer = match next {
        // As the real API: with `tool_choice: "none"`, or no tools offered, the model can only
        // answer in text, whatever it would have liked to call.
        Some(LlmScript::ToolCall(..))
            if req["tool_choice"] == "none"
                || req["tools"].as_array().is_none_or(Vec::is_empty) =>
        {
            default_text()
        }
        Some(answer) => answer,
        None => default_text(),
    };
    let stream = req["stream"].as_bool().unwrap_or(false);
    let usage = json!({"prompt_tokens": 120, "completion_tokens": 24, "total_tokens": 144});
    match answer {
        LlmScript::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        LlmScript::Status(code) => {
            tokio::time::sleep(delay).await;
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            error(
                status,
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
                None,
                "server_error",
            )
        }
        LlmScript::RateLimited(secs) => {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "Rate limit reached for requests. Please try again later.",
                "requests",
                None,
                "rate_limit_exceeded",
            );
            if let Ok(v) = secs.to_string().parse() {
                r.headers_mut().insert("retry-after", v);
            }
            r
        }
        LlmScript::Text(text) if stream => sse(delay, gap, text_chunks(model, &text, usage)),
        LlmScript::ToolCall(name, args) if stream => {
            sse(delay, gap, tool_chunks(model, name, &args, usage))
        }
        LlmScript::Text(text) => {
            tokio::time::sleep(delay).await;
            Json(completion(
                model,
                json!({"role": "assistant", "content": text, "refusal": null, "annotations": []}),
                "stop",
                usage,
            ))
            .into_response()
        }
        LlmScript::ToolCall(name, args) => {
            tokio::time::sleep(delay).await;
            let message = json!({"role": "assistant", "content": null, "tool_calls": [tool_call(name, &args)]});
            Json(completion(model, message, "tool_calls", usage)).into_response()
        }
    }
}

fn completion(model: &str, message: Value, finish: &str, usage: Value) -> Value {
    json!({
        "id": "chatcmpl-local", "object": "chat.completion", "created": chrono::Utc::now().timestamp(),
        "model": model, "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage, "service_tier": "default", "system_fingerprint": null
    })
}

fn tool_call(name: &str, args: &Value) -> Value {
    json!({"id": format!("call_{name}"), "type": "function", "function": {"name": name, "arguments": args.to_string()}})
}

fn chunk(model: &str, delta: Value, finish: Option<&str>) -> String {
    json!({"id": "chatcmpl-local", "object": "chat.completion.chunk", "created": chrono::Utc::now().timestamp(),
           "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], "usage": null})
    .to_string()
}

fn text_chunks(model: &str, text: &str, usage: Value) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = vec![chunk(
        model,
        json!({"role": "assistant", "content": ""}),
        None,
    )];
    for piece in chars.chunks(chars.len().div_ceil(3).max(1)) {
        out.push(chunk(
            model,
            json!({"content": piece.iter().collect::<String>()}),
            None,
        ));
    }
    out.push(chunk(model, json!({}), Some("stop")));
    out.push(json!({"id": "chatcmpl-local", "object": "chat.completion.chunk", "model": model, "choices": [], "usage": usage}).to_string());
    out
}

fn tool_chunks(model: &str, name: &str, args: &Value, usage: Value) -> Vec<String> {
    let args: Vec<char> = args.to_string().chars().collect();
    let (a, b) = args.split_at(args.len() / 2);
    let (a, b): (String, String) = (a.iter().collect(), b.iter().collect());
    vec![
        chunk(model, json!({"role": "assistant", "content": null, "tool_calls": [
            {"index": 0, "id": format!("call_{name}"), "type": "function", "function": {"name": name, "arguments": ""}}]}), None),
        chunk(model, json!({"tool_calls": [{"index": 0, "function": {"arguments": a}}]}), None),
        chunk(model, json!({"tool_calls": [{"index": 0, "function": {"arguments": b}}]}), None),
        chunk(model, json!({}), Some("tool_calls")),
        json!({"id": "chatcmpl-local", "object": "chat.completion.chunk", "model": model, "choices": [], "usage": usage}).to_string(),
    ]
}

/// Streams events: the first after `delay`, the rest `gap` apart, then `[DONE]`.
fn sse(delay: Duration, gap: Duration, events: Vec<String>) -> Response {
    let stream = futures::stream::unfold(
        (events.into_iter(), true, false),
        move |(mut it, first, done)| async move {
            if done {
                return None;
            }
            tokio::time::sleep(if first { delay } else { gap }).await;
            match it.next() {
                Some(e) => Some((
                    Ok::<_, std::io::Error>(format!("data: {e}\n\n")),
                    (it, false, false),
                )),
                None => Some((Ok("data: [DONE]\n\n".to_owned()), (it, false, true))),
            }
        },
    );
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
