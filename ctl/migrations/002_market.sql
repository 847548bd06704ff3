-- 002: the market chat. Memories fade once a month (BEHAVIOUR.md "Memories"):
-- faded_at says when a memory last lost relevance.
ALTER TABLE bot_memories ADD COLUMN faded_at timestamptz;
-- The caps and the dedup read a bot's recent sends by time.
CREATE INDEX messages_bot_sent ON messages (bot_id, sent_at DESC) WHERE status = 'sent';
-- Databases made by an early 001 (before enqueued_at was part of it) get it now.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS enqueued_at timestamptz;
