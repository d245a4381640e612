//! A local row as the JSON object the central side stores. Both targets take the same JSON:
//! PostgREST parses it into the table's columns, and the PostgreSQL target hands it to
//! `jsonb_populate_recordset`, so each kind is written the way PostgreSQL's input functions read
//! it (bytea as `\x<hex>`, booleans as JSON booleans, JSON columns as nested JSON).
//!
//! PHI leaves sealed: a `_sealed` column is sent as its ciphertext, and its plaintext column is
//! null unless the configuration lists that field. Every row of a table gets the same keys.

use crate::crypto::{Aad, Sealer};
use crate::domain::sync_table::{Kind, SyncedTable};
use rusqlite::types::Value as Sql;
use serde_json::{Map, Value};
use std::collections::HashSet;

/// Why a row cannot be encoded; it is quarantined locally, never sent half-right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("{table}.{column} holds a {found} where a {expected} was expected")]
    Type {
        table: &'static str,
        column: &'static str,
        found: &'static str,
        expected: &'static str,
    },
    #[error("{table}.{column} is not valid JSON")]
    Json {
        table: &'static str,
        column: &'static str,
    },
    #[error("{table}.{field} cannot be opened for plaintext sync: {reason}")]
    Sealed {
        table: &'static str,
        field: &'static str,
        reason: String,
    },
}

/// The sealed fields configured to travel in plaintext too (`table.field`).
#[derive(Debug, Clone, Default)]
pub struct PlaintextFields(HashSet<String>);

impl PlaintextFields {
    pub fn new(fields: &[String]) -> Self {
        Self(fields.iter().cloned().collect())
    }

    fn allows(&self, table: &str, field: &str) -> bool {
        !self.0.is_empty() && self.0.contains(&format!("{table}.{field}"))
    }
}

fn kind_name(v: &Sql) -> &'static str {
    match v {
        Sql::Null => "null",
        Sql::Integer(_) => "integer",
        Sql::Real(_) => "real",
        Sql::Text(_) => "text",
        Sql::Blob(_) => "blob",
    }
}

fn bytea(bytes: &[u8]) -> Value {
    Value::String(format!("\\x{}", hex::encode(bytes)))
}

/// Encodes one row read by `db::sync::find_row` (values in the table's column order).
pub fn encode_row(
    table: &'static SyncedTable,
    values: &[Sql],
    plaintext: &PlaintextFields,
    phi: &Sealer,
) -> Result<String, EncodeError> {
    let id = match values.first() {
        Some(Sql::Text(id)) => id.as_str(),
        _ => "",
    };
    let mut out = Map::new();
    for (column, value) in table.columns.iter().zip(values) {
        let wrong = |expected| EncodeError::Type {
            table: table.name,
            column: column.name,
            found: kind_name(value),
            expected,
        };
        let json = match (column.kind, value) {
            (_, Sql::Null) => Value::Null,
            (Kind::Id | Kind::Text | Kind::Time, Sql::Text(s)) => Value::String(s.clone()),
            (Kind::Id | Kind::Text | Kind::Time, _) => return Err(wrong("text")),
            (Kind::Int, Sql::Integer(n)) => Value::from(*n),
            (Kind::Int, _) => return Err(wrong("integer")),
            (Kind::Bool, Sql::Integer(n)) => Value::Bool(*n != 0),
            (Kind::Bool, _) => return Err(wrong("0 or 1")),
            (Kind::Json, Sql::Text(s)) => {
                serde_json::from_str(s).map_err(|_| EncodeError::Json {
                    table: table.name,
                    column: column.name,
                })?
            }
            (Kind::Json, _) => return Err(wrong("JSON text")),
            (Kind::Bytes | Kind::Sealed, Sql::Blob(b)) => bytea(b),
            (Kind::Bytes | Kind::Sealed, _) => return Err(wrong("blob")),
        };
        if column.kind == Kind::Sealed {
            let field = column.field();
            let clear = match value {
                Sql::Blob(sealed) if plaintext.allows(table.name, field) => Value::String(
                    phi.open_string(sealed, Aad::new(table.name, field, id))
                        .map_err(|e| EncodeError::Sealed {
                            table: table.name,
                            field,
                            reason: e.to_string(),
                        })?,
                ),
                _ => Value::Null,
            };
            out.insert(field.to_owned(), clear);
        }
        out.insert(column.name.to_owned(), json);
    }
    Ok(Value::Object(out).to_string())
}

/// Joins encoded rows into the JSON array one upsert sends.
pub fn json_array<'a>(rows: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::from("[");
    for (i, row) in rows.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(row);
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::sync_table::find;

    fn sealer() -> Sealer {
        Sealer::new(&[7u8; 32], [1, 2, 3, 4])
    }

    fn handoff(phi: &Sealer, note: &str) -> Vec<Sql> {
        let id = "0190a0b0-0000-7000-8000-000000000001";
        vec![
            Sql::Text(id.into()),
            Sql::Text("clinic".into()),
            Sql::Text("session".into()),
            Sql::Null,
            Sql::Text("booking".into()),
            Sql::Integer(1),
            Sql::Blob(phi.seal_str(note, Aad::new("handoffs", "note", id))),
            Sql::Text("2026-01-01T00:00:00.000000Z".into()),
            Sql::Null,
        ]
    }

    #[test]
    fn sealed_fields_travel_as_ciphertext_unless_listed() {
        let phi = sealer();
        let table = find("handoffs").unwrap();
        let row = handoff(&phi, "Анна, зуб болит");
        let sealed: Value = serde_json::from_str(
            &encode_row(table, &row, &PlaintextFields::default(), &phi).unwrap(),
        )
        .unwrap();
        assert_eq!(sealed["note"], Value::Null);
        assert!(sealed["note_sealed"].as_str().unwrap().starts_with("\\x01"));
        assert_eq!(sealed["urgent"], Value::Bool(true));
        assert!(!sealed.to_string().contains("Анна"));

        let listed = PlaintextFields::new(&["handoffs.note".into()]);
        let clear: Value =
            serde_json::from_str(&encode_row(table, &row, &listed, &phi).unwrap()).unwrap();
        assert_eq!(clear["note"], "Анна, зуб болит");
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&sealed), keys(&clear), "the same keys either way");
    }

    #[test]
    fn a_sealed_field_that_does_not_open_is_an_error_not_a_leak() {
        let phi = sealer();
        let mut row = handoff(&phi, "x");
        row[0] = Sql::Text("another-row".into());
        let listed = PlaintextFields::new(&["handoffs.note".into()]);
        let err = encode_row(find("handoffs").unwrap(), &row, &listed, &phi).unwrap_err();
        assert!(matches!(err, EncodeError::Sealed { field: "note", .. }));
    }

    #[test]
    fn a_value_of_the_wrong_type_is_named() {
        let phi = sealer();
        let mut row = handoff(&phi, "x");
        row[5] = Sql::Text("yes".into());
        let err = encode_row(
            find("handoffs").unwrap(),
            &row,
            &PlaintextFields::default(),
            &phi,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "handoffs.urgent holds a text where a 0 or 1 was expected"
        );
        assert_eq!(json_array(["{}", "{}"].into_iter()), "[{},{}]");
    }
}
