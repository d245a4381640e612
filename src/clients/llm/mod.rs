//! An OpenAI-compatible chat-completions client: OpenAI itself, or a local server (Ollama,
//! llama.cpp, vLLM) through `OPENAI_BASE_URL`. Three operations: `generate`, `stream`
//! (server-sent events, parsed as they arrive) and `generate_with_tools` (rounds of tool
//! calls, bounded). Every request sends `max_completion_tokens`, never `max_tokens`, and only
//! the parameters the model accepts (the registry knows, e.g. no `temperature` for reasoning
//! models). Errors say what the caller can do: fall back, wait, or give up.

pub mod sse;
pub mod wire;

use futures::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
pub use wire::{FunctionSpec, Message, Tool, ToolCall, Usage};

/// What the registry says about a model, as far as requests are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelParams {
    pub name: String,
    pub supports_tools: bool,
    pub supports_streaming: bool,
    pub supports_temperature: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    #[error("the LLM did not answer in time")]
    Timeout,
    #[error("the LLM is rate limiting us")]
    RateLimited { retry_after: Option<Duration> },
    #[error("the LLM server answered {0}")]
    Server(u16),
    #[error("cannot reach the LLM: {0}")]
    Network(String),
    /// A 4xx other than 429: retrying the same request cannot help.
    #[error("the LLM refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("the LLM answered something that is not a completion: {0}")]
    Malformed(String),
}

/// One completion, possibly after several rounds of tool calls.
#[derive(Debug, Clone, Default)]
pub struct Completion {
    pub content: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Usage,
    pub finish_reason: Option<String>,
    /// Time to the first text token (streamed requests only), from the start of the request
    /// that produced the text.
    pub first_token: Option<Duration>,
    pub elapsed: Duration,
    /// HTTP requests made to produce this.
    pub calls: u32,
}

pub struct LlmClient {
    http: reqwest::Client,
    base: String,
    api_key: Option<SecretString>,
    /// The server refused `temperature` once (a reasoning model behind a name the registry
    /// cannot recognise, such as an Azure deployment): requests leave it out from then on.
    temperature_refused: AtomicBool,
}

/// Request settings shared by every operation.
pub struct Settings<'a> {
    pub model: &'a ModelParams,
    pub max_completion_tokens: u32,
    /// Sent only if the model accepts it.
    pub temperature: Option<f32>,
}

impl<'a> Settings<'a> {
    /// The request body: only the parameters the model accepts.
    fn request(
        &self,
        messages: &'a [Message],
        tools: &'a [Tool],
        tool_choice: Option<&'static str>,
        stream: bool,
    ) -> wire::Request<'a> {
        wire::Request {
            model: &self.model.name,
            messages,
            max_completion_tokens: self.max_completion_tokens,
            temperature: self.temperature.filter(|_| self.model.supports_temperature),
            tools,
            tool_choice,
            stream,
            stream_options: stream.then_some(wire::StreamOptions {
                include_usage: true,
            }),
        }
    }
}

impl LlmClient {
    pub fn new(
        base_url: &str,
        api_key: Option<SecretString>,
        connect: Duration,
        read: Duration,
    ) -> Self {
        Self {
            http: super::http_client(connect, read, 16),
            base: base_url.trim_end_matches('/').to_owned(),
            api_key,
            temperature_refused: AtomicBool::new(false),
        }
    }

    /// Sends the request; if the model refuses its `temperature`, sends it again without
    /// one and leaves it out of every later request. The registry knows reasoning models by
    /// name, but a deployment can be named anything: learning it from the server's answer
    /// costs one refused call instead of every call.
    async fn post(&self, body: &wire::Request<'_>) -> Result<reqwest::Response, LlmError> {
        let mut body = body.clone();
        if self.temperature_refused.load(Ordering::Relaxed) {
            body.temperature = None;
        }
        match self.send(&body).await {
            Err(Rejection::Temperature(_)) if body.temperature.is_some() => {
                if !self.temperature_refused.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        model = body.model,
                        "the model refused `temperature`; requests leave it out from now on"
                    );
                }
                body.temperature = None;
                self.send(&body).await.map_err(LlmError::from)
            }
            result => result.map_err(LlmError::from),
        }
    }

    async fn send(&self, body: &wire::Request<'_>) -> Result<reqwest::Response, Rejection> {
        let mut req = self
            .http
            .post(format!("{}/chat/completions", self.base))
            .json(body);
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key.expose_secret());
        }
        crate::clients::note_remote_call();
        let response = req.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| crate::resilience::retry_after(Some(v), Duration::from_secs(120)));
        let detail = response
            .json::<wire::ErrorBody>()
            .await
            .ok()
            .map(|b| b.error);
        let refused = |status| LlmError::Refused {
            status,
            message: detail
                .as_ref()
                .map(|d| d.message.chars().take(300).collect())
                .unwrap_or_default(),
        };
        Err(match status {
            429 => LlmError::RateLimited { retry_after }.into(),
            408 => LlmError::Timeout.into(),
            s if s >= 500 => LlmError::Server(s).into(),
            400 if detail
                .as_ref()
                .is_some_and(|d| d.param.as_deref() == Some("temperature")) =>
            {
                Rejection::Temperature(refused(400))
            }
            s => refused(s).into(),
        })
    }

    /// One completion, returned whole.
    pub async fn generate(
        &self,
        s: &Settings<'_>,
        messages: &[Message],
        tools: &[Tool],
    ) -> Result<Completion, LlmError> {
        self.generate_choosing(s, messages, tools, None).await
    }

    async fn generate_choosing(
        &self,
        s: &Settings<'_>,
        messages: &[Message],
        tools: &[Tool],
        tool_choice: Option<&'static str>,
    ) -> Result<Completion, LlmError> {
        let started = Instant::now();
        let response: wire::Response = self
            .post(&s.request(messages, tools, tool_choice, false))
            .await?
            .json()
            .await
            .map_err(|e| LlmError::Malformed(e.to_string()))?;
        let choice = response
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| LlmError::Malformed("no choices".into()))?;
        Ok(Completion {
            content: choice.message.content,
            tool_calls: choice.message.tool_calls,
            usage: response.usage.unwrap_or_default(),
            finish_reason: choice.finish_reason,
            first_token: None,
            elapsed: started.elapsed(),
            calls: 1,
        })
    }

    /// One completion, streamed: `on_text` sees each piece of text as it arrives.
    pub async fn stream(
        &self,
        s: &Settings<'_>,
        messages: &[Message],
        tools: &[Tool],
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Completion, LlmError> {
        self.stream_choosing(s, messages, tools, None, on_text)
            .await
    }

    async fn stream_choosing(
        &self,
        s: &Settings<'_>,
        messages: &[Message],
        tools: &[Tool],
        tool_choice: Option<&'static str>,
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Completion, LlmError> {
        let started = Instant::now();
        let mut bytes = self
            .post(&s.request(messages, tools, tool_choice, true))
            .await?
            .bytes_stream();
        let (mut split, mut acc) = (sse::EventSplitter::default(), sse::Accumulator::default());
        let mut first_token = None;
        while let Some(piece) = bytes.next().await {
            let piece = piece.map_err(transport)?;
            for data in split.feed(&piece) {
                let added = acc
                    .apply(&data)
                    .map_err(|e| LlmError::Malformed(e.to_string()))?;
                if let Some(text) = added {
                    first_token.get_or_insert_with(|| started.elapsed());
                    on_text(&text);
                }
            }
            if acc.done {
                break;
            }
        }
        if !acc.done && acc.finish_reason.is_none() {
            return Err(LlmError::Network("the stream ended early".into()));
        }
        Ok(Completion {
            content: (!acc.content.is_empty()).then_some(acc.content),
            tool_calls: acc.tool_calls,
            usage: acc.usage.unwrap_or_default(),
            finish_reason: acc.finish_reason,
            first_token,
            elapsed: started.elapsed(),
            calls: 1,
        })
    }

    /// Lets the model call tools: each round's tool calls are answered by `execute` and sent
    /// back, until the model answers in text or `max_rounds` rounds were used (the last round
    /// says `tool_choice: "none"`, so it must answer). Streams when the model supports it, which is what
    /// measures time to first token. `messages` ends up holding the whole exchange.
    pub async fn generate_with_tools(
        &self,
        s: &Settings<'_>,
        messages: &mut Vec<Message>,
        tools: &[Tool],
        max_rounds: u32,
        execute: &mut (dyn FnMut(&ToolCall) -> String + Send),
    ) -> Result<Completion, LlmError> {
        let started = Instant::now();
        let mut total = Completion::default();
        let tools = if s.model.supports_tools { tools } else { &[] };
        let max_rounds = max_rounds.max(1);
        for round in 1..=max_rounds {
            let choice = (round == max_rounds && !tools.is_empty()).then_some("none");
            let round_started = started.elapsed();
            let c = if s.model.supports_streaming {
                self.stream_choosing(s, messages, tools, choice, &mut |_| {})
                    .await?
            } else {
                self.generate_choosing(s, messages, tools, choice).await?
            };
            total.calls += c.calls;
            total.usage.prompt_tokens += c.usage.prompt_tokens;
            total.usage.completion_tokens += c.usage.completion_tokens;
            if c.tool_calls.is_empty() {
                total.first_token = c.first_token.map(|t| round_started + t);
                total.content = c.content;
                total.finish_reason = c.finish_reason;
                total.elapsed = started.elapsed();
                return Ok(total);
            }
            messages.push(Message::Assistant {
                content: c.content,
                tool_calls: c.tool_calls.clone(),
            });
            for call in &c.tool_calls {
                messages.push(Message::Tool {
                    tool_call_id: call.id.clone(),
                    content: execute(call),
                });
            }
        }
        Err(LlmError::Malformed("the model kept calling tools".into()))
    }
}

/// Why one request failed: the model refusing `temperature` is told apart, since `post` can
/// do something about it.
enum Rejection {
    Temperature(LlmError),
    Other(LlmError),
}

impl From<LlmError> for Rejection {
    fn from(e: LlmError) -> Self {
        Rejection::Other(e)
    }
}

impl From<Rejection> for LlmError {
    fn from(r: Rejection) -> Self {
        match r {
            Rejection::Temperature(e) | Rejection::Other(e) => e,
        }
    }
}

fn transport(e: reqwest::Error) -> LlmError {
    if e.is_timeout() {
        LlmError::Timeout
    } else if e.is_connect() {
        LlmError::Network("connection failed".into())
    } else {
        LlmError::Network("transport error".into())
    }
}
