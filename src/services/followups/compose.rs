//! The words of a follow-up: its own text, or a language-pack template in the chat's language
//! with `{placeholders}` from the context. A template missing in every language, or one
//! needing a value the context lacks, is an error: never the generic fallback, never a
//! visible `{placeholder}`, for a message the patient did not ask for.

use crate::domain::time;
use crate::router::{Router, TemplateGap};
use chrono_tz::Tz;
use serde_json::Value;

/// Placeholder values from the context's top-level fields. Strings and numbers are used as
/// they are, except RFC 3339 times: `{x}` becomes "2026-11-26 10:00" in clinic time, with
/// `{x_date}` ("2026-11-26") and `{x_time}` ("10:00") beside it. Other values are skipped.
pub fn context_vars(context: &Value, tz: Tz) -> Vec<(String, String)> {
    let Some(fields) = context.as_object() else {
        return Vec::new();
    };
    let mut vars = Vec::new();
    for (key, value) in fields {
        match value {
            Value::String(s) => match time::from_db(s) {
                Ok(t) => {
                    let local = t.with_timezone(&tz);
                    vars.push((key.clone(), local.format("%Y-%m-%d %H:%M").to_string()));
                    vars.push((format!("{key}_date"), local.format("%Y-%m-%d").to_string()));
                    vars.push((format!("{key}_time"), local.format("%H:%M").to_string()));
                }
                Err(_) => vars.push((key.clone(), s.clone())),
            },
            Value::Number(n) => vars.push((key.clone(), n.to_string())),
            _ => {}
        }
    }
    vars
}

/// What a follow-up says and where its words come from.
pub struct Wording<'a> {
    pub text: Option<&'a str>,
    pub template: Option<&'a str>,
    pub kind: &'a str,
    pub context: &'a Value,
}

/// The message text in `language` (falling back to the clinic's language, then English).
pub fn compose_text(
    router: &Router,
    w: &Wording<'_>,
    language: &str,
    default_language: &str,
    clinic_name: &str,
    tz: Tz,
) -> Result<String, TemplateGap> {
    if let Some(text) = w.text {
        return Ok(text.to_owned());
    }
    let key = super::template_key(false, w.template, w.kind).unwrap_or_default();
    let owned = context_vars(w.context, tz);
    let mut vars: Vec<(&str, &str)> = owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    vars.push(("clinic", clinic_name));
    router.template_strict(language, default_language, &key, &vars)
}

/// The values for a Cloud API template's {{1}}, {{2}}, …: the named context fields, rendered
/// as placeholders are. A field the context lacks is an error naming it.
pub fn template_params(
    names: &[String],
    context: &Value,
    tz: Tz,
) -> Result<Vec<String>, TemplateGap> {
    let vars = context_vars(context, tz);
    names
        .iter()
        .map(|name| {
            vars.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| TemplateGap::NoValue {
                    template: "cloud template".into(),
                    placeholder: name.clone(),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MOSCOW: Tz = chrono_tz::Europe::Moscow;

    fn wording<'a>(template: Option<&'a str>, kind: &'a str, context: &'a Value) -> Wording<'a> {
        Wording {
            text: None,
            template,
            kind,
            context,
        }
    }

    #[test]
    fn times_in_the_context_are_shown_in_clinic_time() {
        let vars = context_vars(
            &json!({"visit_at": "2026-11-26T07:00:00.000000Z", "service": "Пломба", "n": 2}),
            MOSCOW,
        );
        let get = |k: &str| {
            vars.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("visit_at"), Some("2026-11-26 10:00"));
        assert_eq!(get("visit_at_date"), Some("2026-11-26"));
        assert_eq!(get("visit_at_time"), Some("10:00"));
        assert_eq!(get("service"), Some("Пломба"));
        assert_eq!(get("n"), Some("2"));
    }

    #[test]
    fn a_reminder_is_worded_in_the_chat_language_from_its_context() {
        let router = Router::builtin();
        let context = json!({"visit_at": "2026-11-26T07:00:00Z"});
        let text = compose_text(
            &router,
            &wording(None, "reminder", &context),
            "ru",
            "ru",
            "Улыбка",
            MOSCOW,
        )
        .unwrap();
        assert!(
            text.contains("Улыбка") && text.contains("2026-11-26") && text.contains("10:00"),
            "{text}"
        );
        let en = compose_text(
            &router,
            &wording(None, "reminder", &context),
            "en",
            "ru",
            "Smile",
            MOSCOW,
        )
        .unwrap();
        assert!(en.starts_with("Hello!"), "{en}");
    }

    #[test]
    fn a_missing_template_or_value_is_an_error_not_a_fallback_text() {
        let router = Router::builtin();
        let empty = json!({});
        let err = compose_text(
            &router,
            &wording(None, "party", &empty),
            "ru",
            "ru",
            "A",
            MOSCOW,
        )
        .unwrap_err();
        assert_eq!(err, TemplateGap::NoTemplate("followup_party".into()));
        let err = compose_text(
            &router,
            &wording(Some("followup_service"), "nudge", &empty),
            "ru",
            "ru",
            "A",
            MOSCOW,
        )
        .unwrap_err();
        assert!(
            matches!(err, TemplateGap::NoValue { placeholder, .. } if placeholder == "service")
        );
    }

    #[test]
    fn own_text_is_sent_as_written() {
        let router = Router::builtin();
        let context = json!({});
        let w = Wording {
            text: Some("Ждём вас завтра в 10:00 {не шаблон}"),
            template: None,
            kind: "reminder",
            context: &context,
        };
        assert_eq!(
            compose_text(&router, &w, "ru", "ru", "A", MOSCOW).unwrap(),
            "Ждём вас завтра в 10:00 {не шаблон}"
        );
    }

    #[test]
    fn cloud_template_parameters_come_from_named_context_fields() {
        let context = json!({"service": "Пломба", "visit_at": "2026-11-26T07:00:00Z"});
        let names = vec!["service".to_string(), "visit_at_time".to_string()];
        assert_eq!(
            template_params(&names, &context, MOSCOW).unwrap(),
            vec!["Пломба".to_string(), "10:00".to_string()]
        );
        assert!(template_params(&["x".to_string()], &context, MOSCOW).is_err());
    }
}
