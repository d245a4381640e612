//! Filling `{placeholders}` in reply templates. One pass, left to right: a value is never
//! scanned again, so braces in a value (a patient's words, a clinic name) stay as they are.
//! An unknown placeholder is left visible rather than silently dropped.

/// Replaces each `{name}` in `template` by its value in `vars`.
pub fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, v)| (close, *v))
        });
        match value {
            Some((close, value)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Why a template cannot make a message nobody asked for (a follow-up): sending the generic
/// fallback, or a text with a visible `{placeholder}`, would be worse than sending nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateGap {
    #[error("no language pack has the template {0:?}")]
    NoTemplate(String),
    #[error("the template {template:?} needs {{{placeholder}}}, which was not given")]
    NoValue {
        template: String,
        placeholder: String,
    },
}

/// Like [`fill`], but every `{name}` (letters, digits, `_`) must have a value.
pub fn fill_strict(
    key: &str,
    template: &str,
    vars: &[(&str, &str)],
) -> Result<String, TemplateGap> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        if let Some(close) = after.find('}') {
            let name = &after[..close];
            let is_name = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
            if is_name && !vars.iter().any(|(k, _)| *k == name) {
                return Err(TemplateGap::NoValue {
                    template: key.to_owned(),
                    placeholder: name.to_owned(),
                });
            }
        }
        rest = after;
    }
    Ok(fill(template, vars))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_filling_names_the_first_placeholder_without_a_value() {
        assert_eq!(
            fill_strict(
                "k",
                "Hi {name}, {service}?",
                &[("name", "A"), ("service", "B")]
            ),
            Ok("Hi A, B?".into())
        );
        assert_eq!(
            fill_strict("k", "About {service}: { ok }", &[]),
            Err(TemplateGap::NoValue {
                template: "k".into(),
                placeholder: "service".into()
            })
        );
        assert_eq!(fill_strict("k", "a { b", &[]), Ok("a { b".into()));
    }

    #[test]
    fn placeholders_are_replaced_by_their_values() {
        assert_eq!(
            fill(
                "{service} — {price}.",
                &[("service", "Пломба"), ("price", "4 500 ₽")]
            ),
            "Пломба — 4 500 ₽."
        );
    }

    #[test]
    fn values_with_braces_are_not_expanded_again() {
        assert_eq!(
            fill("«{service}»", &[("service", "{price}"), ("price", "1")]),
            "«{price}»"
        );
    }

    #[test]
    fn unknown_placeholders_and_stray_braces_stay_visible() {
        assert_eq!(fill("a {b} c { d", &[]), "a {b} c { d");
        assert_eq!(fill("{x}{x}", &[("x", "1")]), "11");
    }
}
