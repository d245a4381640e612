-- Frontdesk central schema, part 2 of 2: functions, triggers, views, access. Safe to apply
-- again. Functions pin `search_path` to '' and name every object with its schema.

-- The organisation a clinic's rows are grouped under: the clinic's organisation, or the clinic
-- itself when it belongs to none or is not known here yet. It reads healthcare.clinics (the old
-- backend's procedure read core.clinics, which does not exist, and failed on every call).
CREATE OR REPLACE FUNCTION core.organisation_for_clinic(p_clinic_id uuid)
RETURNS uuid LANGUAGE sql STABLE SET search_path = '' AS $$
    SELECT coalesce(
        (SELECT c.organisation_id FROM healthcare.clinics AS c WHERE c.id = p_clinic_id),
        p_clinic_id)
$$;

-- Sync upserts messages in batches without an organisation; this fills it in, the same way as
-- core.upsert_whatsapp_message below.
CREATE OR REPLACE FUNCTION core.whatsapp_messages_set_organisation()
RETURNS trigger LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
    NEW.organisation_id := core.organisation_for_clinic(NEW.clinic_id);
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS set_organisation ON core.whatsapp_messages;
CREATE TRIGGER set_organisation BEFORE INSERT OR UPDATE ON core.whatsapp_messages
    FOR EACH ROW EXECUTE FUNCTION core.whatsapp_messages_set_organisation();

-- One message, as the JSON object sync sends (keys are column names), inserted or updated by
-- id; returns the id. Its organisation comes from healthcare.clinics, falling back to the
-- clinic id when the organisation is unknown.
CREATE OR REPLACE FUNCTION core.upsert_whatsapp_message(m jsonb)
RETURNS uuid LANGUAGE sql SET search_path = '' AS $$
    INSERT INTO core.whatsapp_messages AS w (
        id, clinic_id, organisation_id, session_id, contact_id, direction, author, provider,
        instance, provider_message_id, kind, body_sealed, body, language, intent, reply_to,
        status, status_reason, sent_at, created_at, updated_at)
    SELECT r.id, r.clinic_id, core.organisation_for_clinic(r.clinic_id), r.session_id,
           r.contact_id, r.direction, r.author, r.provider, r.instance, r.provider_message_id,
           r.kind, r.body_sealed, r.body, r.language, r.intent, r.reply_to, r.status,
           r.status_reason, r.sent_at, r.created_at, r.updated_at
    FROM jsonb_populate_record(NULL::core.whatsapp_messages, m) AS r
    ON CONFLICT (id) DO UPDATE SET
        clinic_id = EXCLUDED.clinic_id, organisation_id = EXCLUDED.organisation_id,
        session_id = EXCLUDED.session_id, contact_id = EXCLUDED.contact_id,
        direction = EXCLUDED.direction, author = EXCLUDED.author, provider = EXCLUDED.provider,
        instance = EXCLUDED.instance, provider_message_id = EXCLUDED.provider_message_id,
        kind = EXCLUDED.kind, body_sealed = EXCLUDED.body_sealed, body = EXCLUDED.body,
        language = EXCLUDED.language, intent = EXCLUDED.intent, reply_to = EXCLUDED.reply_to,
        status = EXCLUDED.status, status_reason = EXCLUDED.status_reason,
        sent_at = EXCLUDED.sent_at, created_at = EXCLUDED.created_at,
        updated_at = EXCLUDED.updated_at
    RETURNING w.id
$$;

-- Organisations, clinics and services are edited here too, and nodes pull them back; the
-- newer copy wins. An edit made here that leaves updated_at alone gets stamped now (so nodes
-- see it as newer); a node sending a copy older than the one here is ignored.
CREATE OR REPLACE FUNCTION core.keep_newest()
RETURNS trigger LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
    IF NEW IS NOT DISTINCT FROM OLD THEN
        RETURN NEW;
    ELSIF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := now();
    ELSIF NEW.updated_at < OLD.updated_at THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS keep_newest ON core.organisations;
CREATE TRIGGER keep_newest BEFORE UPDATE ON core.organisations
    FOR EACH ROW EXECUTE FUNCTION core.keep_newest();
DROP TRIGGER IF EXISTS keep_newest ON healthcare.clinics;
CREATE TRIGGER keep_newest BEFORE UPDATE ON healthcare.clinics
    FOR EACH ROW EXECUTE FUNCTION core.keep_newest();
DROP TRIGGER IF EXISTS keep_newest ON core.services;
CREATE TRIGGER keep_newest BEFORE UPDATE ON core.services
    FOR EACH ROW EXECUTE FUNCTION core.keep_newest();

-- The newest link of each node's audit chain.
CREATE OR REPLACE VIEW core.audit_heads AS
SELECT DISTINCT ON (node_id) node_id, seq, id, at, action, mac, received_at
FROM core.audit_log
ORDER BY node_id, seq DESC, received_at DESC;

-- Where a node's audit log was rolled back or rewritten. A node restored from a backup (or a
-- copied database) carries on from an older place in its chain: its next entries take places
-- the central side already holds with other entries, or do not continue the chain it holds.
-- Empty when every node's log only ever grew.
CREATE OR REPLACE VIEW core.audit_rollbacks AS
SELECT a.node_id, a.seq, a.id, a.at, 'another entry holds this place in the chain' AS problem
FROM core.audit_log AS a
WHERE EXISTS (SELECT 1 FROM core.audit_log AS b
              WHERE b.node_id = a.node_id AND b.seq = a.seq AND b.id <> a.id)
UNION ALL
SELECT a.node_id, a.seq, a.id, a.at, 'does not continue the chain before it'
FROM core.audit_log AS a
JOIN core.audit_log AS p ON p.node_id = a.node_id AND p.seq = a.seq - 1
WHERE a.prev_mac <> p.mac;

-- Only the service role (Supabase) or the table owner (direct PostgreSQL) reaches these tables:
-- row level security is on and no policy lets anyone else in.
ALTER TABLE core.organisations ENABLE ROW LEVEL SECURITY;
ALTER TABLE healthcare.clinics ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.services ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.contacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.conversation_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.whatsapp_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.message_metrics ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.handoffs ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.followups ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.audit_log ENABLE ROW LEVEL SECURITY;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
        GRANT USAGE ON SCHEMA core, healthcare TO service_role;
        GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA core, healthcare TO service_role;
        GRANT EXECUTE ON FUNCTION core.upsert_whatsapp_message(jsonb) TO service_role;
    END IF;
END
$$;

-- PostgREST (Supabase's REST API) reloads its schema cache; elsewhere this does nothing.
NOTIFY pgrst, 'reload schema';
