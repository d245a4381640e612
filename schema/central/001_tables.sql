-- Frontdesk central schema, part 1 of 2: the tables. Apply to the central PostgreSQL (Supabase:
-- the SQL editor, or psql) before turning sync on; `frontdesk sync schema` prints both parts.
-- Safe to apply again: everything is created only if missing.
--
-- The tables keep the local names and are keyed by `id` (the UUID the node generated), so every
-- copy is an idempotent upsert. Clinics live in `healthcare`, everything else in `core`.
-- PHI arrives sealed: `<field>_sealed` holds the node's AES-256-GCM ciphertext (AAD: table,
-- field, row id); `<field>` stays null unless the node was configured to send that field in
-- plaintext (`sync.plaintext_fields`, recorded in the node's audit log).
-- Times are timestamptz; booleans are booleans; JSON is jsonb.

CREATE SCHEMA IF NOT EXISTS core;
CREATE SCHEMA IF NOT EXISTS healthcare;

CREATE TABLE IF NOT EXISTS core.organisations (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS healthcare.clinics (
    id                uuid PRIMARY KEY,
    -- Null for a clinic in no chain: messages then carry the clinic id as their organisation.
    organisation_id   uuid REFERENCES core.organisations (id),
    name              text NOT NULL,
    timezone          text NOT NULL,
    default_language  text NOT NULL,
    phone             text,
    address           text,
    hours             jsonb NOT NULL DEFAULT '{}',
    facts             jsonb NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);

-- The price list. Nodes pull it back: edit prices here and they reach the clinic within
-- `sync.pull_interval_secs`. Remove a service by setting `active = false` (a deleted row is
-- not noticed by the nodes).
CREATE TABLE IF NOT EXISTS core.services (
    id           uuid PRIMARY KEY,
    clinic_id    uuid NOT NULL REFERENCES healthcare.clinics (id),
    code         text NOT NULL,
    name         text NOT NULL,
    price_minor  bigint NOT NULL CHECK (price_minor >= 0),
    currency     text NOT NULL CHECK (length(currency) = 3),
    aliases      text NOT NULL DEFAULT '',
    -- The name by language code, from the price list's name_<lang> columns.
    names        jsonb NOT NULL DEFAULT '{}',
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    -- Deferred: two services swapping codes in one upsert is not a conflict.
    UNIQUE (clinic_id, code) DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE IF NOT EXISTS core.contacts (
    id            uuid PRIMARY KEY,
    clinic_id     uuid NOT NULL REFERENCES healthcare.clinics (id),
    phone_sealed  bytea NOT NULL,
    phone         text,
    name_sealed   bytea,
    name          text,
    lid_sealed    bytea,
    lid           text,
    language      text,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS core.conversation_sessions (
    id                     uuid PRIMARY KEY,
    clinic_id              uuid NOT NULL REFERENCES healthcare.clinics (id),
    contact_id             uuid NOT NULL REFERENCES core.contacts (id),
    provider               text NOT NULL,
    instance               text NOT NULL,
    chat_sealed            bytea NOT NULL,
    chat                   text,
    language               text,
    status                 text NOT NULL,
    human_until            timestamptz,
    handoff_reason         text,
    handoff_urgent         boolean NOT NULL DEFAULT false,
    handoff_at             timestamptz,
    last_inbound_at        timestamptz,
    scheduled_followup_at  timestamptz,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS core.whatsapp_messages (
    id                   uuid PRIMARY KEY,
    clinic_id            uuid NOT NULL REFERENCES healthcare.clinics (id),
    -- Set centrally from healthcare.clinics (see core.organisation_for_clinic).
    organisation_id      uuid NOT NULL,
    session_id           uuid NOT NULL REFERENCES core.conversation_sessions (id),
    contact_id           uuid NOT NULL REFERENCES core.contacts (id),
    direction            text NOT NULL,
    author               text NOT NULL,
    provider             text NOT NULL,
    instance             text NOT NULL,
    provider_message_id  text,
    kind                 text NOT NULL,
    body_sealed          bytea,
    body                 text,
    language             text,
    intent               text,
    reply_to             uuid REFERENCES core.whatsapp_messages (id),
    status               text NOT NULL,
    status_reason        text,
    sent_at              timestamptz,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL
);

CREATE INDEX IF NOT EXISTS whatsapp_messages_session
    ON core.whatsapp_messages (session_id, created_at);
CREATE INDEX IF NOT EXISTS whatsapp_messages_organisation
    ON core.whatsapp_messages (organisation_id, created_at);

CREATE TABLE IF NOT EXISTS core.message_metrics (
    id                        uuid PRIMARY KEY,
    message_id                uuid NOT NULL UNIQUE REFERENCES core.whatsapp_messages (id),
    inbound_message_id        uuid REFERENCES core.whatsapp_messages (id),
    clinic_id                 uuid NOT NULL REFERENCES healthcare.clinics (id),
    route                     text NOT NULL,
    intent                    text,
    language                  text,
    received_to_queued_us     bigint NOT NULL,
    remote_calls_before_send  bigint NOT NULL,
    model                     text,
    tokens_in                 bigint,
    tokens_out                bigint,
    ttft_ms                   bigint,
    llm_total_ms              bigint,
    created_at                timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS core.handoffs (
    id           uuid PRIMARY KEY,
    clinic_id    uuid NOT NULL REFERENCES healthcare.clinics (id),
    session_id   uuid NOT NULL REFERENCES core.conversation_sessions (id),
    message_id   uuid REFERENCES core.whatsapp_messages (id),
    reason       text NOT NULL,
    urgent       boolean NOT NULL DEFAULT false,
    note_sealed  bytea,
    note         text,
    created_at   timestamptz NOT NULL,
    resolved_at  timestamptz
);

CREATE TABLE IF NOT EXISTS core.followups (
    id          uuid PRIMARY KEY,
    clinic_id   uuid NOT NULL REFERENCES healthcare.clinics (id),
    session_id  uuid NOT NULL REFERENCES core.conversation_sessions (id),
    kind        text NOT NULL,
    due_at      timestamptz NOT NULL,
    context     jsonb NOT NULL DEFAULT '{}',
    status      text NOT NULL,
    attempts    bigint NOT NULL DEFAULT 0,
    source      text NOT NULL,
    message_id  uuid REFERENCES core.whatsapp_messages (id),
    last_error  text,
    -- Words written by staff or the LLM: ciphertext, and plaintext only when configured.
    text_sealed bytea,
    text        text,
    template    text,
    rule        text,
    cancel_on_reply boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- The links of each node's audit chain (not the entries' content): enough to see a node's
-- log rolled back or rewritten, see core.audit_rollbacks.
CREATE TABLE IF NOT EXISTS core.audit_log (
    id           uuid PRIMARY KEY,
    node_id      uuid NOT NULL,
    seq          bigint NOT NULL,
    at           timestamptz NOT NULL,
    action       text NOT NULL,
    prev_mac     bytea NOT NULL,
    mac          bytea NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS audit_log_node_seq ON core.audit_log (node_id, seq);
