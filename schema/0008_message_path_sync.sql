-- Frontdesk migration 8: the message path queues its own sync entries.
--
-- Migration 2 queued every synced row from triggers. A trigger makes each INSERT or UPDATE on
-- its table a statement SQLite must be able to undo on its own (the trigger's insert could
-- fail after the row was written), so SQLite copies every page such a statement changes into a
-- statement journal before changing it. On the message path (two messages, a metric and a
-- session touch per patient message, then the send's outcome) that copying and the triggers'
-- own programs were about a quarter of the single writer's instructions (callgrind under
-- `frontdesk bench`).
--
-- The writes of these four (table, operation) pairs now queue the row themselves, in the same
-- function and transaction as the write, through `db::sync::queue`. Nothing can forget it
-- unnoticed: debug builds (every test run) put temporary triggers in place of these and check
-- at each commit that every row written has an entry queued after it (`db::sync_guard`).
-- Tables written rarely (clinics, services, contacts, new sessions, handoffs, follow-ups, the
-- audit log) keep their triggers.

DROP TRIGGER IF EXISTS sync_whatsapp_messages_insert;
DROP TRIGGER IF EXISTS sync_whatsapp_messages_update;
DROP TRIGGER IF EXISTS sync_message_metrics_insert;
DROP TRIGGER IF EXISTS sync_conversation_sessions_update;
