//! The peers Frontdesk talks to: the WhatsApp gateways (Evolution API, Meta's Cloud API) and
//! the LLM. Their sections of the config file, with defaults; values from the environment are
//! applied by `env.rs`, validation by `Config::load`.

use secrecy::SecretString;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvolutionConfig {
    pub api_url: Option<String>,
    pub api_key: Option<SecretString>,
    pub instance: Option<String>,
    /// Authenticates inbound webhooks (JWT, static header or body HMAC).
    pub webhook_secret: Option<SecretString>,
    /// Body shape of `sendText`: "v2" (`text`) or "v1" (`textMessage.text`).
    pub api_version: EvolutionApiVersion,
    /// Evolution shows "typing…" for this long before sending (its `delay`); 0 sends at once.
    pub send_delay_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvolutionApiVersion {
    V1,
    V2,
}

impl Default for EvolutionConfig {
    fn default() -> Self {
        Self {
            api_url: None,
            api_key: None,
            instance: None,
            webhook_secret: None,
            api_version: EvolutionApiVersion::V2,
            send_delay_ms: 0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CloudConfig {
    pub api_url: String,
    pub phone_number_id: Option<String>,
    pub app_secret: Option<SecretString>,
    pub verify_token: Option<SecretString>,
    pub access_token: Option<SecretString>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenAiConfig {
    pub api_key: Option<SecretString>,
    pub base_url: String,
    pub model: String,
    /// Use the LLM at all. Unset: yes when an API key is set or the base URL is not OpenAI's
    /// (a local server needs no key).
    pub enabled: Option<bool>,
    /// Everything an LLM answer may take, from the patient's message to the queued reply.
    pub budget_ms: u64,
    pub max_completion_tokens: u32,
    /// Sent only to models that accept it.
    pub temperature: f32,
    pub max_tool_rounds: u32,
    /// After a message that needs the LLM, wait this long for more from the same chat so
    /// several quick messages get one answer.
    pub gather_ms: u64,
    /// Recent messages of the chat given to the model as context.
    pub history_messages: usize,
}

impl OpenAiConfig {
    pub fn is_enabled(&self) -> bool {
        self.enabled
            .unwrap_or_else(|| self.api_key.is_some() || !self.base_url.contains("api.openai.com"))
    }
}

impl Default for CloudConfig {
    fn default() -> Self {
        Self {
            api_url: "https://graph.facebook.com/v21.0".into(),
            phone_number_id: None,
            app_secret: None,
            verify_token: None,
            access_token: None,
        }
    }
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self {
            api_key: None,
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-5-nano".into(),
            enabled: None,
            budget_ms: 8_000,
            max_completion_tokens: 1_200,
            temperature: 0.3,
            max_tool_rounds: 3,
            gather_ms: 400,
            history_messages: 16,
        }
    }
}
