-- Frontdesk migration 7: allowed-value checks written as comparisons, not IN lists.
--
-- SQLite evaluates `CHECK (x IN ('a', 'b', 'c'))` (more than two constants) by building a
-- temporary b-tree of the list every time a statement checks it: every insert into these
-- tables, and every update of the column. The message path writes them several times per
-- patient message (the message and its reply, the send-outbox row and its outcome, and a
-- sync-outbox row for each of those from the triggers), so that was a fifth of the single
-- writer's work per message (callgrind, `frontdesk bench`: 630k → 438k instructions of writer
-- work per reply). `x = 'a' OR x = 'b' OR x = 'c'` allows exactly the same values, at the
-- cost of a few comparisons. Two-value lists are already compared directly and stay.
--
-- SQLite cannot change a CHECK in place, so each table is rebuilt the documented way
-- (https://sqlite.org/lang_altertable.html#otheralter): a new table with the same columns in
-- the same order, the rows copied with their ids and rowids, the old one dropped, the new one
-- renamed, then its indexes and triggers made again as migrations 1-6 made them. The runner
-- turns foreign keys off around this migration and checks them before committing.

-- whatsapp_messages ------------------------------------------------------------------------

CREATE TABLE whatsapp_messages_new (
    id                   TEXT PRIMARY KEY,
    clinic_id            TEXT NOT NULL REFERENCES clinics (id),
    session_id           TEXT NOT NULL REFERENCES conversation_sessions (id),
    contact_id           TEXT NOT NULL REFERENCES contacts (id),
    direction            TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    author               TEXT NOT NULL
                         CHECK (author = 'patient' OR author = 'bot' OR author = 'staff'),
    provider             TEXT NOT NULL CHECK (provider IN ('evolution', 'cloud')),
    instance             TEXT NOT NULL,
    -- Inbound: the gateway's id. Outbound: set when the gateway accepts the send.
    provider_message_id  TEXT,
    kind                 TEXT NOT NULL,
    body_sealed          BLOB,
    language             TEXT,
    intent               TEXT,
    -- For a reply: the inbound message it answers.
    reply_to             TEXT REFERENCES whatsapp_messages (id),
    -- Inbound: received. Outbound: queued, sent, delivered, read, failed.
    status               TEXT NOT NULL,
    status_reason        TEXT,
    -- When the patient sent it (inbound) or the gateway accepted it (outbound).
    sent_at              TEXT,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    -- Dedupe: the same delivery seen twice is the same row.
    UNIQUE (provider, instance, provider_message_id)
) STRICT;

INSERT INTO whatsapp_messages_new (rowid, id, clinic_id, session_id, contact_id, direction,
    author, provider, instance, provider_message_id, kind, body_sealed, language, intent,
    reply_to, status, status_reason, sent_at, created_at, updated_at)
SELECT rowid, id, clinic_id, session_id, contact_id, direction, author, provider, instance,
    provider_message_id, kind, body_sealed, language, intent, reply_to, status, status_reason,
    sent_at, created_at, updated_at
FROM whatsapp_messages;

DROP TABLE whatsapp_messages;
ALTER TABLE whatsapp_messages_new RENAME TO whatsapp_messages;

CREATE INDEX whatsapp_messages_session ON whatsapp_messages (session_id, created_at);

CREATE TRIGGER sync_whatsapp_messages_insert AFTER INSERT ON whatsapp_messages BEGIN
    INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
    VALUES ('whatsapp_messages', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
CREATE TRIGGER sync_whatsapp_messages_update AFTER UPDATE ON whatsapp_messages BEGIN
    INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
    VALUES ('whatsapp_messages', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;

-- followups ----------------------------------------------------------------------------------

CREATE TABLE followups_new (
    id               TEXT PRIMARY KEY,
    clinic_id        TEXT NOT NULL REFERENCES clinics (id),
    session_id       TEXT NOT NULL REFERENCES conversation_sessions (id),
    kind             TEXT NOT NULL,
    due_at           TEXT NOT NULL,
    -- Any JSON; times inside are RFC 3339 strings.
    context          TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(context)),
    status           TEXT NOT NULL DEFAULT 'scheduled'
                     CHECK (status = 'scheduled' OR status = 'sent' OR status = 'cancelled'
                            OR status = 'expired' OR status = 'failed'),
    attempts         INTEGER NOT NULL DEFAULT 0,
    source           TEXT NOT NULL
                     CHECK (source = 'llm' OR source = 'staff' OR source = 'rule'),
    message_id       TEXT REFERENCES whatsapp_messages (id),
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    -- Added by migration 3.
    text_sealed      BLOB,
    template         TEXT,
    rule             TEXT,
    cancel_on_reply  INTEGER NOT NULL DEFAULT 1 CHECK (cancel_on_reply IN (0, 1))
) STRICT;

INSERT INTO followups_new (rowid, id, clinic_id, session_id, kind, due_at, context, status,
    attempts, source, message_id, last_error, created_at, updated_at, text_sealed, template,
    rule, cancel_on_reply)
SELECT rowid, id, clinic_id, session_id, kind, due_at, context, status, attempts, source,
    message_id, last_error, created_at, updated_at, text_sealed, template, rule,
    cancel_on_reply
FROM followups;

DROP TABLE followups;
ALTER TABLE followups_new RENAME TO followups;

CREATE INDEX followups_due ON followups (status, due_at);
CREATE INDEX followups_session ON followups (session_id, status);
CREATE UNIQUE INDEX followups_one_pending_per_rule
    ON followups (session_id, rule) WHERE status = 'scheduled' AND rule IS NOT NULL;
CREATE INDEX followups_message ON followups (message_id) WHERE message_id IS NOT NULL;

CREATE TRIGGER sync_followups_insert AFTER INSERT ON followups BEGIN
    INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
    VALUES ('followups', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
CREATE TRIGGER sync_followups_update AFTER UPDATE ON followups BEGIN
    INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
    VALUES ('followups', NEW.id, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;

-- send_outbox --------------------------------------------------------------------------------

CREATE TABLE send_outbox_new (
    id               TEXT PRIMARY KEY,
    message_id       TEXT NOT NULL UNIQUE REFERENCES whatsapp_messages (id),
    status           TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status = 'pending' OR status = 'done' OR status = 'failed'),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
) STRICT;

INSERT INTO send_outbox_new (rowid, id, message_id, status, attempts, next_attempt_at,
    last_error, created_at, updated_at)
SELECT rowid, id, message_id, status, attempts, next_attempt_at, last_error, created_at,
    updated_at
FROM send_outbox;

DROP TABLE send_outbox;
ALTER TABLE send_outbox_new RENAME TO send_outbox;

CREATE INDEX send_outbox_due ON send_outbox (status, next_attempt_at);

-- sync_outbox --------------------------------------------------------------------------------
-- `seq` is the rowid: copied as it is, so the sync worker's settled mark still holds.

CREATE TABLE sync_outbox_new (
    -- Commit order: the single writer assigns it, so a lower seq was committed earlier.
    seq            INTEGER PRIMARY KEY,
    table_name     TEXT NOT NULL,
    row_id         TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'pending'
                   CHECK (status = 'pending' OR status = 'synced' OR status = 'quarantined'
                          OR status = 'requeued'),
    attempts       INTEGER NOT NULL DEFAULT 0,
    -- Why the central side refused the row (quarantined); never row values.
    last_error     TEXT,
    -- Unix milliseconds, wall clock.
    queued_at_ms   INTEGER NOT NULL,
    settled_at_ms  INTEGER
) STRICT;

INSERT INTO sync_outbox_new (seq, table_name, row_id, status, attempts, last_error,
    queued_at_ms, settled_at_ms)
SELECT seq, table_name, row_id, status, attempts, last_error, queued_at_ms, settled_at_ms
FROM sync_outbox;

DROP TABLE sync_outbox;
ALTER TABLE sync_outbox_new RENAME TO sync_outbox;
