-- Frontdesk migration 2: the sync outbox, filled by triggers.
--
-- Every row the central database needs gets an outbox entry from an AFTER INSERT / AFTER UPDATE
-- trigger, so the entry is written in the same transaction as the row and no write path can
-- forget it. An entry names the row only (table, id): the sync worker reads the row's current
-- state when it drains the outbox, and upserts are idempotent by id, so the latest state wins.
--
-- The hot path pays one small insert per written row: `seq` is the rowid (an append at the end
-- of the table's B-tree) and there is no secondary index. The worker remembers the highest seq
-- it has settled and reads `WHERE seq > ? AND status = 'pending'` along the rowid; `sync status`
-- scans the table, which holds the pending rows plus a bounded history of synced ones.

-- Nothing wrote the table of migration 1; it is replaced by this leaner shape.
DROP TABLE sync_outbox;

CREATE TABLE sync_outbox (
    -- Commit order: the single writer assigns it, so a lower seq was committed earlier.
    seq            INTEGER PRIMARY KEY,
    table_name     TEXT NOT NULL,
    row_id         TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'synced', 'quarantined', 'requeued')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    -- Why the central side refused the row (quarantined); never row values.
    last_error     TEXT,
    -- Unix milliseconds, wall clock.
    queued_at_ms   INTEGER NOT NULL,
    settled_at_ms  INTEGER
) STRICT;

-- Identifies this installation to the central side (the audit chain is per node). A restored
-- backup keeps it: the restored node is the same node, and its rolled-back chain shows.
INSERT INTO meta (key, value, updated_at)
SELECT 'node_id',
       lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' ||
       substr(lower(hex(randomblob(2))), 2) || '-' ||
       substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' ||
       lower(hex(randomblob(6))),
       strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
WHERE NOT EXISTS (SELECT 1 FROM meta WHERE key = 'node_id');

-- What the central side gets of the audit trail: each entry's place in the MAC chain (seq, its
-- MAC and the previous entry's MAC) and its action, never actor, subject or detail. With the
-- links of every entry, the central side sees a rolled-back log (a restored backup, a copied
-- database) as two different entries with the same node and seq, or as a link that does not
-- continue the chain it already holds: see schema/central/002_functions.sql.
CREATE VIEW sync_audit_log AS
SELECT a.id, m.value AS node_id, a.seq, a.at, a.action, a.prev_mac, a.mac
FROM audit_log a JOIN meta m ON m.key = 'node_id';

CREATE TRIGGER sync_organisations_insert AFTER INSERT ON organisations BEGIN
    INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
    VALUES ('organisations', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
CREATE TRIGGER sync_organisations_update AFTER UPDATE ON organisations BEGIN
    INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
    VALUES ('organisations', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;

CREATE TRIGGER sync_clinics_insert AFTER INSERT ON clinics BEGIN
    INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
    VALUES ('clinics', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
CREATE TRIGGER sync_clinics_update AFTER UPDATE ON clinics BEGIN
    INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
    VALUES ('clinics', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;

CREATE TRIGGER sync_services_insert AFTER INSERT ON services BEGIN
    INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
    VALUES ('services', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
CREATE TRIGGER sync_services_update AFTER UPDATE ON services BEGIN
    INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
    VALUES ('services', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;

CREATE TRIGGER sync_contacts_insert AFTER INSERT ON contacts BEGIN
    INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
    VALUES ('contacts', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
CREATE TRIGGER sync_contacts_update AFTER UPDATE ON contacts BEGIN
    INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
    VALUES ('contacts', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;

CREATE TRIGGER sync_conversation_sessions_insert AFTER INSERT ON conversation_sessions BEGIN
    INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
    VALUES ('conversation_sessions', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
CREATE TRIGGER sync_conversation_sessions_update AFTER UPDATE ON conversation_sessions BEGIN
    INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
    VALUES ('conversation_sessions', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;

CREATE TRIGGER sync_whatsapp_messages_insert AFTER INSERT ON whatsapp_messages BEGIN
    INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
    VALUES ('whatsapp_messages', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
CREATE TRIGGER sync_whatsapp_messages_update AFTER UPDATE ON whatsapp_messages BEGIN
    INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
    VALUES ('whatsapp_messages', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;

CREATE TRIGGER sync_message_metrics_insert AFTER INSERT ON message_metrics BEGIN
    INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
    VALUES ('message_metrics', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
CREATE TRIGGER sync_message_metrics_update AFTER UPDATE ON message_metrics BEGIN
    INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
    VALUES ('message_metrics', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;

CREATE TRIGGER sync_handoffs_insert AFTER INSERT ON handoffs BEGIN
    INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
    VALUES ('handoffs', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
CREATE TRIGGER sync_handoffs_update AFTER UPDATE ON handoffs BEGIN
    INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
    VALUES ('handoffs', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;

CREATE TRIGGER sync_followups_insert AFTER INSERT ON followups BEGIN
    INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
    VALUES ('followups', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
CREATE TRIGGER sync_followups_update AFTER UPDATE ON followups BEGIN
    INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
    VALUES ('followups', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;

-- The audit log is append-only (updates are refused), so inserts are all there is.
CREATE TRIGGER sync_audit_log_insert AFTER INSERT ON audit_log BEGIN
    INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
    VALUES ('audit_log', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;

-- Rows written before this migration are queued once, parents before children.
INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
SELECT t, id, CAST(unixepoch('subsec') * 1000 AS INTEGER) FROM (
    SELECT 1 AS o, 'organisations' AS t, id, created_at AS c FROM organisations
    UNION ALL SELECT 2, 'clinics', id, created_at FROM clinics
    UNION ALL SELECT 3, 'services', id, created_at FROM services
    UNION ALL SELECT 4, 'contacts', id, created_at FROM contacts
    UNION ALL SELECT 5, 'conversation_sessions', id, created_at FROM conversation_sessions
    UNION ALL SELECT 6, 'whatsapp_messages', id, created_at FROM whatsapp_messages
    UNION ALL SELECT 7, 'message_metrics', id, created_at FROM message_metrics
    UNION ALL SELECT 8, 'handoffs', id, created_at FROM handoffs
    UNION ALL SELECT 9, 'followups', id, created_at FROM followups
    UNION ALL SELECT 10, 'audit_log', id, at FROM audit_log
) ORDER BY o, c, id;
