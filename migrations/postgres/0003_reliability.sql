-- Reliability: outbound messages whose outcome is unknown (killed or timed
-- out mid-request: never resent automatically), 429s counted apart from
-- attempts, and one shared send pace per WhatsApp number for every process.
ALTER TABLE messages DROP CONSTRAINT messages_status_check;
ALTER TABLE messages ADD CONSTRAINT messages_status_check CHECK (status IN
    ('received', 'processed', 'queued', 'sending', 'sent', 'delivered', 'read', 'failed', 'cancelled', 'unknown'));
ALTER TABLE messages ADD COLUMN rate_limits INTEGER NOT NULL DEFAULT 0;

CREATE TABLE send_pacing (
    -- the WhatsApp number's sending account (a hash of the provider key)
    sender TEXT PRIMARY KEY,
    -- nobody sends before this, in Unix milliseconds: the previous send's
    -- completion plus the interval and jitter, or a 429's retry_after
    next_at_ms BIGINT NOT NULL,
    -- the process whose send is in flight, until its lease runs out
    holder TEXT,
    lease_until_ms BIGINT NOT NULL DEFAULT 0
);
