//! A WhatsApp message template approved by Meta, as the Cloud API sends it outside the
//! 24-hour window: its name, language and body parameters ({{1}}, {{2}}, …). Stored as JSON
//! in the message body (sealed: the parameters may name a patient's visit).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudTemplate {
    pub name: String,
    pub language: String,
    pub params: Vec<String>,
}

impl CloudTemplate {
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "name": self.name, "language": self.language, "params": self.params
        })
        .to_string()
    }

    pub fn from_json(text: &str) -> Option<CloudTemplate> {
        serde_json::from_str(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_round_trips_through_its_stored_form() {
        let t = CloudTemplate {
            name: "clinic_followup".into(),
            language: "ru".into(),
            params: vec!["Пломба".into(), "10:00".into()],
        };
        assert_eq!(CloudTemplate::from_json(&t.to_json()), Some(t));
        assert_eq!(CloudTemplate::from_json("not json"), None);
    }
}
