-- Frontdesk migration 6: find a contact by its WhatsApp @lid.
--
-- A chat is keyed by the blind index of the patient's phone. Some gateway builds name a chat
-- by its @lid alone (no `remoteJidAlt`, no `senderPn`), notably for messages staff type on
-- the clinic's phone: without a way from the @lid to the contact, such a message opened a
-- second contact and session, and the takeover it should have caused silenced that one
-- instead of the patient's chat. The @lid is stored sealed; this is its blind index (same
-- key and construction as `phone_index`), set when a message names both. Local only: it is
-- not a synced column.

ALTER TABLE contacts ADD COLUMN lid_index TEXT;
CREATE INDEX contacts_lid_index ON contacts (clinic_id, lid_index) WHERE lid_index IS NOT NULL;
