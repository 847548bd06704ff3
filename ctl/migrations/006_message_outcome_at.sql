-- 006: the console's dashboard asks, every 10 s, for the last hour of the bots'
-- messages by the minute they ended in (GET /api/v1/stats/messages). Without
-- this index that is a scan of the whole table (messages_bot_sent leads with
-- bot_id); with it, a range over the hour's rows alone.
CREATE INDEX messages_outcome_at ON messages ((coalesce(sent_at, created_at)))
    WHERE bot_id IS NOT NULL AND status IN ('sent', 'failed', 'unknown');
