-- no-transaction
-- Reliability: outbound messages whose outcome is unknown (killed or timed
-- out mid-request: never resent automatically), 429s counted apart from
-- attempts, and one shared send pace per WhatsApp number for every process.
--
-- SQLite cannot change a CHECK constraint, so `messages` is rebuilt the way
-- SQLite documents (https://www.sqlite.org/lang_altertable.html#otheralter):
-- with foreign keys off, so rows that point at messages keep their ids, and
-- in one transaction. `-- no-transaction` is needed because the pragma has
-- no effect inside a transaction.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE messages_new (
    id INTEGER PRIMARY KEY,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    phone TEXT NOT NULL,
    client_id INTEGER REFERENCES clients (id) ON DELETE SET NULL,
    kind TEXT NOT NULL CHECK (kind IN ('reminder', 'reply', 'staff', 'notice')),
    body TEXT NOT NULL,
    media_kind TEXT,
    status TEXT NOT NULL CHECK (status IN ('received', 'processed', 'queued', 'sending', 'sent', 'delivered', 'read', 'failed', 'cancelled', 'unknown')),
    automatic INTEGER NOT NULL DEFAULT 0,
    priority INTEGER NOT NULL DEFAULT 1,
    provider_message_id TEXT,
    wa_message_id TEXT UNIQUE,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    permanent_failure INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    sent_at TEXT,
    rate_limits INTEGER NOT NULL DEFAULT 0
);
INSERT INTO messages_new (id, direction, phone, client_id, kind, body, media_kind, status,
    automatic, priority, provider_message_id, wa_message_id, attempts, error, permanent_failure,
    next_attempt_at, created_at, updated_at, sent_at)
SELECT id, direction, phone, client_id, kind, body, media_kind, status,
    automatic, priority, provider_message_id, wa_message_id, attempts, error, permanent_failure,
    next_attempt_at, created_at, updated_at, sent_at
FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE INDEX messages_status ON messages (status, next_attempt_at);
CREATE INDEX messages_phone ON messages (phone, created_at);
CREATE INDEX messages_created ON messages (created_at);
CREATE INDEX messages_provider_id ON messages (provider_message_id);

CREATE TABLE send_pacing (
    -- the WhatsApp number's sending account (a hash of the provider key)
    sender TEXT PRIMARY KEY,
    -- nobody sends before this, in Unix milliseconds: the previous send's
    -- completion plus the interval and jitter, or a 429's retry_after
    next_at_ms INTEGER NOT NULL,
    -- the process whose send is in flight, until its lease runs out
    holder TEXT,
    lease_until_ms INTEGER NOT NULL DEFAULT 0
);
COMMIT;
PRAGMA foreign_keys = ON;
