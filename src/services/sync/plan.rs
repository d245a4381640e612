//! Turns a run of pending outbox entries into what one batch sends: one group per table, in
//! the order that satisfies the central foreign keys (parents first), each row once.
//!
//! Why this keeps every conversation in order: entries are read oldest first as one contiguous
//! run of commit order, and a row's parents (its session, its contact, the message a metric
//! measures) were committed before it, so they are in the same run or an earlier, settled one.
//! Within a table, rows go in one statement in the order of their latest entry. A row queued
//! several times in the run is sent once, in its current state, and all its entries settle
//! together; entries queued after the run stay pending for the next batch.

use crate::db::sync::Pending;
use crate::domain::sync_table::{self, SyncedTable};
use std::collections::HashMap;

/// One row to send, and every outbox entry it settles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRow {
    pub row_id: String,
    pub seqs: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableGroup {
    pub table: &'static SyncedTable,
    pub rows: Vec<PlannedRow>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub groups: Vec<TableGroup>,
    /// Entries naming a table this binary does not sync: settled as quarantined.
    pub unknown: Vec<i64>,
    /// The highest seq in the run.
    pub last_seq: i64,
}

impl Plan {
    pub fn rows(&self) -> usize {
        self.groups.iter().map(|g| g.rows.len()).sum()
    }
}

pub fn plan(pending: &[Pending]) -> Plan {
    let mut out = Plan {
        last_seq: pending.iter().map(|p| p.seq).max().unwrap_or(0),
        ..Plan::default()
    };
    // (table, row) → index of its row in its group.
    let mut seen: HashMap<(&str, &str), usize> = HashMap::new();
    let mut groups: HashMap<&'static str, TableGroup> = HashMap::new();
    for p in pending {
        let Some(table) = sync_table::find(&p.table) else {
            out.unknown.push(p.seq);
            continue;
        };
        let group = groups.entry(table.name).or_insert_with(|| TableGroup {
            table,
            rows: Vec::new(),
        });
        match seen.get(&(table.name, p.row_id.as_str())) {
            Some(&i) => group.rows[i].seqs.push(p.seq),
            None => {
                seen.insert((table.name, p.row_id.as_str()), group.rows.len());
                group.rows.push(PlannedRow {
                    row_id: p.row_id.clone(),
                    seqs: vec![p.seq],
                });
            }
        }
    }
    out.groups = groups.into_values().collect();
    for group in &mut out.groups {
        // Keep the latest entry's place: the row goes where its last change was committed.
        group
            .rows
            .sort_by_key(|r| r.seqs.last().copied().unwrap_or(0));
    }
    out.groups.sort_by_key(|g| g.table.order());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(seq: i64, table: &str, id: &str) -> Pending {
        Pending {
            seq,
            table: table.into(),
            row_id: id.into(),
        }
    }

    #[test]
    fn a_row_queued_several_times_is_sent_once_and_settles_every_entry() {
        let plan = plan(&[
            p(1, "conversation_sessions", "s1"),
            p(2, "whatsapp_messages", "m1"),
            p(3, "conversation_sessions", "s1"),
            p(4, "whatsapp_messages", "m2"),
            p(5, "whatsapp_messages", "m1"),
        ]);
        assert_eq!(plan.rows(), 3);
        let messages = &plan.groups[1];
        assert_eq!(messages.table.name, "whatsapp_messages");
        let ids: Vec<&str> = messages.rows.iter().map(|r| r.row_id.as_str()).collect();
        assert_eq!(ids, ["m2", "m1"], "ordered by each row's latest entry");
        assert_eq!(messages.rows[1].seqs, [2, 5]);
        assert_eq!(plan.groups[0].rows[0].seqs, [1, 3]);
        assert_eq!(plan.last_seq, 5);
    }

    #[test]
    fn parents_are_sent_before_children_whatever_the_queue_order() {
        let plan = plan(&[
            p(1, "message_metrics", "x1"),
            p(2, "whatsapp_messages", "m1"),
            p(3, "contacts", "c1"),
            p(4, "conversation_sessions", "s1"),
            p(5, "clinics", "k1"),
        ]);
        let order: Vec<&str> = plan.groups.iter().map(|g| g.table.name).collect();
        assert_eq!(
            order,
            [
                "clinics",
                "contacts",
                "conversation_sessions",
                "whatsapp_messages",
                "message_metrics"
            ]
        );
    }

    #[test]
    fn entries_for_unknown_tables_are_set_aside() {
        let plan = plan(&[p(7, "no_such_table", "x"), p(8, "handoffs", "h")]);
        assert_eq!(plan.unknown, [7]);
        assert_eq!(plan.rows(), 1);
    }
}
