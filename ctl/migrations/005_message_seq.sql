-- 005: a change sequence on messages, for the admin API's live stream (issue 14).
-- Every insert and every change of a message's status or text takes the next
-- number, so a client that reconnects with Last-Event-ID gets from PostgreSQL
-- everything that changed after what it saw (new messages and status changes
-- alike). Rows written before this migration keep seq NULL: the stream starts
-- after them.
CREATE SEQUENCE messages_seq;
ALTER TABLE messages ADD COLUMN seq bigint;

CREATE FUNCTION messages_next_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.seq := nextval('messages_seq');
    RETURN NEW;
END
$$;

CREATE TRIGGER messages_seq BEFORE INSERT OR UPDATE OF status, text ON messages
    FOR EACH ROW EXECUTE FUNCTION messages_next_seq();
CREATE INDEX messages_by_seq ON messages (seq) WHERE seq IS NOT NULL;
