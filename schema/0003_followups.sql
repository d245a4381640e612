-- Follow-ups, migration 3: what the scheduler needs beyond the core `followups` table.
--
-- `text_sealed`: a text written by staff or the LLM (PHI, so sealed like message bodies; AAD
-- binds it to followups/text/<id>). `template`: a language-pack template key used when there is
-- no text. `rule`: the config rule that made it; at most one pending follow-up per chat and
-- rule. `cancel_on_reply`: a patient's message cancels it (nudges), or not (visit reminders).
-- `followup_rules`: the configured rules per clinic, so a conversation turn evaluates them in
-- its own transaction with one indexed lookup.

ALTER TABLE followups ADD COLUMN text_sealed BLOB;
ALTER TABLE followups ADD COLUMN template TEXT;
ALTER TABLE followups ADD COLUMN rule TEXT;
ALTER TABLE followups ADD COLUMN cancel_on_reply INTEGER NOT NULL DEFAULT 1
    CHECK (cancel_on_reply IN (0, 1));

CREATE UNIQUE INDEX followups_one_pending_per_rule
    ON followups (session_id, rule) WHERE status = 'scheduled' AND rule IS NOT NULL;

CREATE TABLE followup_rules (
    clinic_id      TEXT NOT NULL REFERENCES clinics (id),
    name           TEXT NOT NULL,
    -- An intent (`price`, `booking`, …) or a reply route (`fast_price`, …) of a patient turn.
    trigger        TEXT NOT NULL,
    -- No nudge when the turn, or the chat within `delay_secs` before it, had this intent.
    unless_intent  TEXT,
    delay_secs     INTEGER NOT NULL CHECK (delay_secs > 0),
    kind           TEXT NOT NULL,
    template       TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (clinic_id, name)
) STRICT;

CREATE INDEX followup_rules_trigger ON followup_rules (clinic_id, trigger);
