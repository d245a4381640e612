//! Sending WhatsApp text through Evolution API (`POST /message/sendText/{instance}`, v2 or v1
//! body) or Meta's Cloud API (`POST /{phone-number-id}/messages`), and approved templates
//! through the Cloud API. Classifies failures: transient ones are retried by the sender,
//! permanent ones are recorded with a reason that names no patient data.

use crate::config::{Config, EvolutionApiVersion};
use crate::domain::cloud_template::CloudTemplate;
use crate::domain::message::Provider;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use std::time::Duration;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SendError {
    #[error("no {0} gateway is configured")]
    NotConfigured(&'static str),
    /// Worth retrying: 5xx, 429, timeouts, refused connections.
    #[error("{0}")]
    Transient(String),
    /// Retrying cannot help; the reason is recorded on the message.
    #[error("{0}")]
    Permanent(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub provider_message_id: Option<String>,
}

struct Evolution {
    http: reqwest::Client,
    base: String,
    api_key: SecretString,
    version: EvolutionApiVersion,
    delay_ms: u64,
    /// `sendText` URLs by instance, parsed once: a clinic has one or a few instances, and
    /// parsing a URL string was a visible share of each send under `frontdesk bench`.
    send_text_urls: std::sync::Mutex<std::collections::HashMap<String, reqwest::Url>>,
}

impl Evolution {
    fn send_text_url(&self, instance: &str) -> Result<reqwest::Url, SendError> {
        let mut urls = self
            .send_text_urls
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(url) = urls.get(instance) {
            return Ok(url.clone());
        }
        let url = reqwest::Url::parse(&format!(
            "{}/message/sendText/{}",
            self.base,
            urlencode(instance)
        ))
        .map_err(|e| SendError::Permanent(format!("Evolution API URL: {e}")))?;
        // Bounded: instances come from authenticated webhooks, but a misbehaving gateway
        // could still name many.
        if urls.len() >= 64 {
            urls.clear();
        }
        urls.insert(instance.to_owned(), url.clone());
        Ok(url)
    }
}

/// Evolution API v2's `sendText` body.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SendTextV2<'a> {
    number: &'a str,
    text: &'a str,
    delay: u64,
    link_preview: bool,
}

struct Cloud {
    http: reqwest::Client,
    base: String,
    token: SecretString,
}

pub struct GatewayClient {
    evolution: Option<Evolution>,
    cloud: Option<Cloud>,
}

impl GatewayClient {
    pub fn new(config: &Config) -> Self {
        let s = &config.sender;
        let client = |read_ms: u64| {
            super::http_client(
                Duration::from_millis(s.connect_timeout_ms),
                Duration::from_millis(read_ms),
                s.concurrency,
            )
        };
        let evolution = config.evolution.api_url.as_ref().map(|url| Evolution {
            // Evolution holds a send for its `delay` (the "typing…" it shows) before it
            // answers, so that wait comes on top of the read timeout: otherwise a delay near
            // the timeout would time out sends the gateway goes on to deliver, and each retry
            // would deliver the reply again.
            http: client(
                s.read_timeout_ms
                    .saturating_add(config.evolution.send_delay_ms),
            ),
            base: url.trim_end_matches('/').to_owned(),
            api_key: config
                .evolution
                .api_key
                .clone()
                .unwrap_or_else(|| SecretString::from("")),
            version: config.evolution.api_version,
            delay_ms: config.evolution.send_delay_ms,
            send_text_urls: Default::default(),
        });
        let cloud = config
            .whatsapp_cloud
            .access_token
            .as_ref()
            .map(|token| Cloud {
                http: client(s.read_timeout_ms),
                base: config
                    .whatsapp_cloud
                    .api_url
                    .trim_end_matches('/')
                    .to_owned(),
                token: token.clone(),
            });
        Self { evolution, cloud }
    }

    /// Sends `text` to `to` (phone digits, or an @lid JID) on the given channel.
    pub async fn send_text(
        &self,
        provider: Provider,
        instance: &str,
        to: &str,
        text: &str,
    ) -> Result<Sent, SendError> {
        match provider {
            Provider::Evolution => self.send_evolution(instance, to, text).await,
            Provider::Cloud => self.send_cloud(instance, to, text).await,
        }
    }

    /// Sends an approved Cloud API template (outside the 24-hour window). Evolution API
    /// speaks WhatsApp Web, which has no templates: that is a permanent failure.
    pub async fn send_template(
        &self,
        provider: Provider,
        instance: &str,
        to: &str,
        template: &CloudTemplate,
    ) -> Result<Sent, SendError> {
        if provider != Provider::Cloud {
            return Err(SendError::Permanent(
                "message templates need the WhatsApp Cloud API".into(),
            ));
        }
        let parameters: Vec<Value> = template
            .params
            .iter()
            .map(|p| json!({ "type": "text", "text": p }))
            .collect();
        let mut body = json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
            "type": "template",
            "template": { "name": template.name, "language": { "code": template.language } }
        });
        if !parameters.is_empty() {
            body["template"]["components"] = json!([{ "type": "body", "parameters": parameters }]);
        }
        self.post_cloud(instance, &body).await
    }

    /// Whether replies can go anywhere: an Evolution API URL or a Cloud API token is set.
    pub fn any_configured(&self) -> bool {
        self.evolution.is_some() || self.cloud.is_some()
    }

    async fn send_evolution(
        &self,
        instance: &str,
        to: &str,
        text: &str,
    ) -> Result<Sent, SendError> {
        let e = self
            .evolution
            .as_ref()
            .ok_or(SendError::NotConfigured("Evolution"))?;
        let body = match e.version {
            EvolutionApiVersion::V2 => serde_json::to_vec(&SendTextV2 {
                number: to,
                text,
                delay: e.delay_ms,
                link_preview: false,
            }),
            EvolutionApiVersion::V1 => serde_json::to_vec(&json!({
                "number": to,
                "options": { "delay": e.delay_ms, "presence": "composing", "linkPreview": false },
                "textMessage": { "text": text }
            })),
        }
        .map_err(|e| SendError::Permanent(format!("cannot encode the message: {e}")))?;
        let url = e.send_text_url(instance)?;
        super::note_remote_call();
        let response = e
            .http
            .post(url)
            .header("apikey", e.api_key.expose_secret())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap_or_default();
        if let 200 | 201 = status {
            return Ok(Sent {
                provider_message_id: serde_json::from_slice::<EvolutionSent>(&bytes)
                    .ok()
                    .and_then(|s| s.key?.id),
            });
        }
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        match status {
            400 if not_on_whatsapp(&body) => {
                Err(SendError::Permanent("recipient is not on WhatsApp".into()))
            }
            400 | 422 => Err(SendError::Permanent(
                "gateway rejected the message as invalid".into(),
            )),
            401 | 403 => Err(SendError::Permanent(
                "gateway refused our API key (unauthorised)".into(),
            )),
            404 => Err(SendError::Permanent(format!(
                "gateway has no instance named {instance:?}"
            ))),
            408 | 429 => Err(SendError::Transient(format!("gateway answered {status}"))),
            s if s >= 500 => Err(SendError::Transient(format!(
                "gateway answered {s}: {}",
                short(body["response"]["message"].as_str().unwrap_or(""))
            ))),
            s => Err(SendError::Permanent(format!("gateway answered {s}"))),
        }
    }

    async fn send_cloud(
        &self,
        phone_number_id: &str,
        to: &str,
        text: &str,
    ) -> Result<Sent, SendError> {
        let body = json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
            "type": "text", "text": { "preview_url": false, "body": text }
        });
        self.post_cloud(phone_number_id, &body).await
    }

    async fn post_cloud(&self, phone_number_id: &str, body: &Value) -> Result<Sent, SendError> {
        let c = self
            .cloud
            .as_ref()
            .ok_or(SendError::NotConfigured("WhatsApp Cloud API"))?;
        let url = format!("{}/{}/messages", c.base, urlencode(phone_number_id));
        super::note_remote_call();
        let response = c
            .http
            .post(url)
            .bearer_auth(c.token.expose_secret())
            .json(body)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap_or_default();
        if (200..300).contains(&status) {
            return Ok(Sent {
                provider_message_id: serde_json::from_slice::<CloudSent>(&bytes)
                    .ok()
                    .and_then(|s| s.messages.into_iter().next()?.id),
            });
        }
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let code = body["error"]["code"].as_i64().unwrap_or(0);
        let title = match code {
            131026 => "recipient is not on WhatsApp or cannot receive messages",
            131047 => "more than 24 hours since the patient last wrote (template required)",
            131030 => "recipient is not in the allowed list of this test number",
            190 => "access token expired or invalid (unauthorised)",
            _ => "",
        };
        // 130429 / 131048 / 131056 / 80007 are Meta's rate limits; 131000/131016 its outages.
        let transient = status >= 500
            || status == 429
            || matches!(code, 130429 | 131048 | 131056 | 80007 | 131000 | 131016);
        let message = if title.is_empty() {
            format!("Cloud API answered {status} (error {code})")
        } else {
            format!("{title} (error {code})")
        };
        Err(if transient {
            SendError::Transient(message)
        } else {
            SendError::Permanent(message)
        })
    }
}

/// What a successful send's answer says that is kept: the message's id, which later status
/// receipts name. Read into these types rather than a JSON tree, skipping the rest of the
/// answer: this runs for every reply sent. Anything else there (or nothing) leaves the id
/// unknown, and the send still counts as done.
#[derive(serde::Deserialize)]
struct EvolutionSent {
    key: Option<MessageKey>,
}

#[derive(serde::Deserialize)]
struct MessageKey {
    id: Option<String>,
}

#[derive(serde::Deserialize)]
struct CloudSent {
    #[serde(default)]
    messages: Vec<MessageKey>,
}

/// Evolution's "not on WhatsApp": `response.message` lists `{exists: false, ...}`.
fn not_on_whatsapp(body: &Value) -> bool {
    body["response"]["message"].as_array().is_some_and(|items| {
        items
            .iter()
            .any(|i| i.get("exists") == Some(&Value::Bool(false)))
    })
}

fn transport_error(e: reqwest::Error) -> SendError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "transport error"
    };
    SendError::Transient(format!("gateway {kind}"))
}

fn short(s: &str) -> String {
    s.chars().take(120).collect()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixture_not_on_whatsapp_body_is_recognised() {
        let path = format!(
            "{}/tests/fixtures/wire/evolution_send_text_error_400_not_on_whatsapp.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let body: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        assert!(not_on_whatsapp(&body));
        assert!(!not_on_whatsapp(
            &json!({"response": {"message": [["instance requires property \"text\""]]}})
        ));
    }

    #[tokio::test]
    async fn a_send_counts_as_a_remote_call_only_inside_a_counted_turn() {
        let dir = tempfile::tempdir().unwrap();
        let env = crate::config::Env::from_pairs([
            ("FRONTDESK_DATA_DIR", dir.path().to_str().unwrap()),
            ("EVOLUTION_API_URL", "http://127.0.0.1:9"),
            ("EVOLUTION_API_KEY", "evo-key"),
        ]);
        let config = Config::load(&Default::default(), &env).unwrap();
        let gateway = GatewayClient::new(&config);
        let send = || gateway.send_text(Provider::Evolution, "main", "79990001122", "hi");
        let counted = crate::clients::counting_remote_calls(async {
            let before = crate::clients::remote_calls_so_far();
            let _ = send().await;
            (before, crate::clients::remote_calls_so_far())
        })
        .await;
        assert_eq!(counted, (0, 1));
        let _ = send().await;
        assert_eq!(crate::clients::remote_calls_so_far(), 0, "outside a turn");
    }

    #[tokio::test]
    async fn a_redirect_is_a_permanent_failure_and_our_key_goes_nowhere_else() {
        use axum::http::{HeaderMap, StatusCode, header::LOCATION};
        use std::sync::{Arc, Mutex};
        async fn serve(app: axum::Router) -> String {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            tokio::spawn(async move { axum::serve(listener, app).await });
            url
        }
        let elsewhere_saw: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
        let saw = elsewhere_saw.clone();
        let elsewhere = serve(axum::Router::new().fallback(move |headers: HeaderMap| {
            let key = headers
                .get("apikey")
                .map(|v| v.to_str().unwrap().to_owned());
            saw.lock().unwrap().push(key);
            async { (StatusCode::CREATED, r#"{"key":{"id":"X"}}"#) }
        }))
        .await;
        let gateway_url = serve(axum::Router::new().fallback(move || async move {
            (StatusCode::TEMPORARY_REDIRECT, [(LOCATION, elsewhere)])
        }))
        .await;
        let dir = tempfile::tempdir().unwrap();
        let env = crate::config::Env::from_pairs([
            ("FRONTDESK_DATA_DIR", dir.path().to_str().unwrap()),
            ("EVOLUTION_API_URL", gateway_url.as_str()),
            ("EVOLUTION_API_KEY", "evo-key"),
        ]);
        let gateway = GatewayClient::new(&Config::load(&Default::default(), &env).unwrap());
        let sent = gateway
            .send_text(Provider::Evolution, "main", "79990001122", "hi")
            .await;
        match sent {
            Err(SendError::Permanent(reason)) => assert!(reason.contains("307"), "{reason}"),
            other => panic!("expected a permanent failure, got {other:?}"),
        }
        assert!(elsewhere_saw.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_typing_delay_evolution_holds_a_send_for_does_not_time_it_out() {
        use axum::http::StatusCode;
        // Like Evolution: the answer comes after the body's `delay`.
        let app = axum::Router::new().fallback(|body: axum::body::Bytes| async move {
            let body: Value = serde_json::from_slice(&body).unwrap();
            let delay = body["delay"].as_u64().unwrap();
            tokio::time::sleep(Duration::from_millis(delay)).await;
            (StatusCode::CREATED, r#"{"key":{"id":"3EB0X"}}"#)
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let dir = tempfile::tempdir().unwrap();
        let env = crate::config::Env::from_pairs([
            ("FRONTDESK_DATA_DIR", dir.path().to_str().unwrap()),
            ("EVOLUTION_API_URL", url.as_str()),
            ("EVOLUTION_API_KEY", "evo-key"),
        ]);
        let mut config = Config::load(&Default::default(), &env).unwrap();
        config.sender.read_timeout_ms = 300;
        config.evolution.send_delay_ms = 600;
        let sent = GatewayClient::new(&config)
            .send_text(Provider::Evolution, "main", "79990001122", "hi")
            .await;
        assert_eq!(sent.unwrap().provider_message_id.as_deref(), Some("3EB0X"));
    }

    #[test]
    fn instance_names_are_escaped_in_paths() {
        assert_eq!(urlencode("clinic main/1"), "clinic%20main%2F1");
    }
}
