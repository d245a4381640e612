//! Phone numbers as WhatsApp uses them: E.164 digits without the plus. PHI: redacted in Debug.

use std::fmt;

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    /// Accepts "79990001122", "+7 999 000-11-22", "79990001122@s.whatsapp.net",
    /// "79990001122:12@s.whatsapp.net" (device suffix). 8 to 15 digits.
    pub fn parse(raw: &str) -> Option<Phone> {
        let user = raw.split('@').next().unwrap_or(raw);
        let user = user.split(':').next().unwrap_or(user);
        let digits: String = user.chars().filter(char::is_ascii_digit).collect();
        let only_formatting = user
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.'));
        (only_formatting && (8..=15).contains(&digits.len())).then_some(Phone(digits))
    }

    pub fn digits(&self) -> &str {
        &self.0
    }

    /// For listings staff read: enough to tell chats apart, not enough to dial.
    /// "79990001122" → "+7 999 ***-**-22"; other numbers keep their first four digits.
    pub fn masked(&self) -> String {
        let d = &self.0;
        let last = &d[d.len() - 2..];
        if d.len() == 11 && d.starts_with('7') {
            return format!("+7 {} ***-**-{last}", &d[1..4]);
        }
        let stars = "*".repeat(d.len() - 6);
        format!("+{} {stars}{last}", &d[..4])
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Phone([redacted])")
    }
}

/// Whether a JID names a person's chat (not a group, broadcast, newsletter or status).
pub fn is_personal_jid(jid: &str) -> bool {
    jid.ends_with("@s.whatsapp.net") || jid.ends_with("@c.us") || jid.ends_with("@lid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_parse_from_every_form_whatsapp_uses() {
        for raw in [
            "79990001122",
            "+7 999 000-11-22",
            "79990001122@s.whatsapp.net",
            "79990001122:12@s.whatsapp.net",
            "79990001122@c.us",
        ] {
            assert_eq!(Phone::parse(raw).unwrap().digits(), "79990001122", "{raw}");
        }
        assert!(Phone::parse("123").is_none());
        assert!(Phone::parse("abc79990001122").is_none());
    }

    #[test]
    fn masked_numbers_keep_the_prefix_and_last_two_digits_only() {
        assert_eq!(
            Phone::parse("79990001122").unwrap().masked(),
            "+7 999 ***-**-22"
        );
        assert_eq!(
            Phone::parse("34612345678").unwrap().masked(),
            "+3461 *****78"
        );
        assert_eq!(Phone::parse("12345678").unwrap().masked(), "+1234 **78");
    }

    #[test]
    fn debug_output_hides_the_number() {
        assert!(!format!("{:?}", Phone::parse("79990001122").unwrap()).contains("7999"));
    }
}
