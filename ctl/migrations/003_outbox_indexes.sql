-- 003: every read of a bot's messages asks for its sent ones, which
-- messages_bot_sent covers; messages_bot_recent only cost each outbox write
-- (the claim and the outcome) one more index entry.
DROP INDEX IF EXISTS messages_bot_recent;
