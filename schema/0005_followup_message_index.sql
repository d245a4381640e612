-- Frontdesk migration 5: find a follow-up by the message that carried it.
--
-- When the sender gives up on a message (a permanent gateway refusal, WhatsApp's window
-- closed), the follow-up it carried is marked `failed` or `expired` by `message_id`. Without
-- this index that update walked every follow-up ever sent (`followups_due` by status, and
-- sent ones stay `sent`). Partial: a follow-up gets its message only when it is sent, and
-- `message_id = ?` implies the column is not NULL, so SQLite uses this index for that lookup.

CREATE INDEX followups_message ON followups (message_id) WHERE message_id IS NOT NULL;
