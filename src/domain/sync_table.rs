//! The tables copied to the central database: their columns, how each column travels, the
//! central schema each lives in, and the order that keeps the central foreign keys satisfied
//! (parents before children). Pure data: `db` builds its SELECTs from it, the sync encoder its
//! JSON, and the clients their URLs and SQL. Column names here are fixed identifiers, never input.

/// How a column's local value becomes the central one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A UUID in text form (central `uuid`).
    Id,
    Text,
    Int,
    /// 0/1 locally, a boolean centrally.
    Bool,
    /// RFC 3339 text locally, `timestamptz` centrally.
    Time,
    /// JSON text locally, `jsonb` centrally.
    Json,
    /// Bytes that are not secret (audit MACs): `bytea`.
    Bytes,
    /// AES-GCM ciphertext of a PHI field (`<field>_sealed`): sent as `bytea`, and the plaintext
    /// column `<field>` is sent only when the configuration asks for it (null otherwise).
    Sealed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
}

impl Column {
    /// For a sealed column, the field it holds (`phone_sealed` → `phone`): the name of the
    /// plaintext column centrally, and the `column` of the ciphertext's AAD.
    pub fn field(&self) -> &'static str {
        self.name.strip_suffix("_sealed").unwrap_or(self.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncedTable {
    /// Local table name, and the name of the central table.
    pub name: &'static str,
    /// The local relation rows are read from (a view where the central row needs more).
    pub source: &'static str,
    /// Central schema: `healthcare` for clinics, `core` for the rest.
    pub schema: &'static str,
    /// Local columns in SELECT order; `id` first.
    pub columns: &'static [Column],
}

impl SyncedTable {
    /// The central column names of a row as sent (a sealed column adds its plaintext field).
    pub fn remote_columns(&self) -> Vec<&'static str> {
        let mut out = Vec::with_capacity(self.columns.len() + 2);
        for c in self.columns {
            out.push(c.name);
            if c.kind == Kind::Sealed {
                out.push(c.field());
            }
        }
        out
    }

    /// Position in [`TABLES`]: parents come first.
    pub fn order(&self) -> usize {
        TABLES
            .iter()
            .position(|t| t.name == self.name)
            .unwrap_or(usize::MAX)
    }

    pub fn sealed_fields(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns
            .iter()
            .filter(|c| c.kind == Kind::Sealed)
            .map(|c| c.field())
    }
}

const fn c(name: &'static str, kind: Kind) -> Column {
    Column { name, kind }
}

use Kind::*;

const fn table(
    name: &'static str,
    schema: &'static str,
    columns: &'static [Column],
) -> SyncedTable {
    SyncedTable {
        name,
        source: name,
        schema,
        columns,
    }
}

/// Every synced table, parents before children.
#[rustfmt::skip] // a table of data reads better in rows than one column per line
pub const TABLES: &[SyncedTable] = &[
    table("organisations", "core", &[c("id", Id), c("name", Text), c("created_at", Time), c("updated_at", Time)]),
    table("clinics", "healthcare", &[
        c("id", Id), c("organisation_id", Id), c("name", Text), c("timezone", Text),
        c("default_language", Text), c("phone", Text), c("address", Text), c("hours", Json),
        c("facts", Json), c("created_at", Time), c("updated_at", Time),
    ]),
    table("services", "core", &[
        c("id", Id), c("clinic_id", Id), c("code", Text), c("name", Text), c("price_minor", Int),
        c("currency", Text), c("aliases", Text), c("names", Json), c("active", Bool),
        c("created_at", Time), c("updated_at", Time),
    ]),
    // The blind phone index stays local: the central side has no use for it.
    table("contacts", "core", &[
        c("id", Id), c("clinic_id", Id), c("phone_sealed", Sealed), c("name_sealed", Sealed),
        c("lid_sealed", Sealed), c("language", Text), c("created_at", Time), c("updated_at", Time),
    ]),
    table("conversation_sessions", "core", &[
        c("id", Id), c("clinic_id", Id), c("contact_id", Id), c("provider", Text),
        c("instance", Text), c("chat_sealed", Sealed), c("language", Text), c("status", Text),
        c("human_until", Time), c("handoff_reason", Text), c("handoff_urgent", Bool),
        c("handoff_at", Time), c("last_inbound_at", Time), c("scheduled_followup_at", Time),
        c("created_at", Time), c("updated_at", Time),
    ]),
    table("whatsapp_messages", "core", &[
        c("id", Id), c("clinic_id", Id), c("session_id", Id), c("contact_id", Id),
        c("direction", Text), c("author", Text), c("provider", Text), c("instance", Text),
        c("provider_message_id", Text), c("kind", Text), c("body_sealed", Sealed),
        c("language", Text), c("intent", Text), c("reply_to", Id), c("status", Text),
        c("status_reason", Text), c("sent_at", Time), c("created_at", Time), c("updated_at", Time),
    ]),
    table("message_metrics", "core", &[
        c("id", Id), c("message_id", Id), c("inbound_message_id", Id), c("clinic_id", Id),
        c("route", Text), c("intent", Text), c("language", Text), c("received_to_queued_us", Int),
        c("remote_calls_before_send", Int), c("model", Text), c("tokens_in", Int),
        c("tokens_out", Int), c("ttft_ms", Int), c("llm_total_ms", Int), c("created_at", Time),
    ]),
    table("handoffs", "core", &[
        c("id", Id), c("clinic_id", Id), c("session_id", Id), c("message_id", Id),
        c("reason", Text), c("urgent", Bool), c("note_sealed", Sealed), c("created_at", Time),
        c("resolved_at", Time),
    ]),
    table("followups", "core", &[
        c("id", Id), c("clinic_id", Id), c("session_id", Id), c("kind", Text), c("due_at", Time),
        c("context", Json), c("status", Text), c("attempts", Int), c("source", Text),
        c("message_id", Id), c("last_error", Text), c("text_sealed", Sealed), c("template", Text),
        c("rule", Text), c("cancel_on_reply", Bool), c("created_at", Time), c("updated_at", Time),
    ]),
    SyncedTable {
        name: "audit_log",
        source: "sync_audit_log",
        schema: "core",
        columns: &[
            c("id", Id), c("node_id", Id), c("seq", Int), c("at", Time), c("action", Text),
            c("prev_mac", Bytes), c("mac", Bytes),
        ],
    },
];

/// The synced table with this local name.
pub fn find(name: &str) -> Option<&'static SyncedTable> {
    TABLES.iter().find(|t| t.name == name)
}

/// Whether `table.field` names a sealed field that may be sent in plaintext.
pub fn is_sealed_field(spec: &str) -> bool {
    let Some((table, field)) = spec.split_once('.') else {
        return false;
    };
    find(table).is_some_and(|t| t.sealed_fields().any(|f| f == field))
}

/// Every `table.field` that holds sealed PHI, for messages that list the choices.
pub fn sealed_field_names() -> Vec<String> {
    TABLES
        .iter()
        .flat_map(|t| t.sealed_fields().map(move |f| format!("{}.{f}", t.name)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_starts_with_its_id_and_parents_come_first() {
        for t in TABLES {
            assert_eq!(t.columns[0].name, "id", "{}", t.name);
        }
        assert!(find("clinics").unwrap().order() < find("services").unwrap().order());
        assert!(
            find("conversation_sessions").unwrap().order()
                < find("whatsapp_messages").unwrap().order()
        );
        assert!(
            find("whatsapp_messages").unwrap().order() < find("message_metrics").unwrap().order()
        );
    }

    #[test]
    fn sealed_columns_add_a_plaintext_column_named_after_the_field() {
        let contacts = find("contacts").unwrap();
        let cols = contacts.remote_columns();
        assert!(cols.contains(&"phone_sealed") && cols.contains(&"phone"));
        assert!(is_sealed_field("whatsapp_messages.body"));
        assert!(!is_sealed_field("whatsapp_messages.intent"));
        assert!(!is_sealed_field("nonsense"));
        assert!(sealed_field_names().contains(&"handoffs.note".to_string()));
    }
}
