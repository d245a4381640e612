//! The central database's SQL (`schema/central/`), embedded so `frontdesk sync schema` can print
//! it and the PostgreSQL target can apply it. It runs on the central PostgreSQL, never on the
//! local SQLite file.

/// The central SQL files, in the order they are applied.
pub const CENTRAL_SQL: &[(&str, &str)] = &[
    (
        "001_tables.sql",
        include_str!("../../schema/central/001_tables.sql"),
    ),
    (
        "002_functions.sql",
        include_str!("../../schema/central/002_functions.sql"),
    ),
];

/// All of it as one script.
pub fn central_sql() -> String {
    CENTRAL_SQL
        .iter()
        .map(|(name, sql)| format!("-- ===== schema/central/{name} =====\n{sql}"))
        .collect::<Vec<_>>()
        .join("\n")
}
