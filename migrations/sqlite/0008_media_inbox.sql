-- no-transaction
-- Receipts and people in the chat (issue 15):
-- * `media`: files customers send (receipts) and files staff attach to a
--   panel reply, kept in the database itself so every `serve` process (on
--   any machine) can serve them and a backup holds them; at most 16 MB each.
-- * `messages.media_id`: the file an inbound message brought, or the one an
--   outbound message carries; `messages.sent_by`: who wrote a `manual`
--   message (a staff email, or NULL for the business phone itself);
--   `messages.media_source`: WaSender's fields to fetch an inbound file
--   (the `decrypt-media` request), kept until the file is fetched.
-- * kind `manual`: a person's message to a customer (from the phone or the
--   panel), logged like any other.
-- * `inbox`: conversations waiting for a person, one open entry per phone.
--
-- SQLite cannot change a CHECK constraint, so `messages` is rebuilt as in
-- 0003 (foreign keys off, one transaction; hence `-- no-transaction`).
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE media (
    id INTEGER PRIMARY KEY,
    -- sniffed from the bytes, never the sender's claim
    content_type TEXT NOT NULL,
    file_name TEXT,
    size_bytes INTEGER NOT NULL,
    -- lowercase hex
    sha256 TEXT NOT NULL,
    data BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE messages_new (
    id INTEGER PRIMARY KEY,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    phone TEXT NOT NULL,
    client_id INTEGER REFERENCES clients (id) ON DELETE SET NULL,
    kind TEXT NOT NULL CHECK (kind IN ('reminder', 'reply', 'staff', 'notice', 'manual')),
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
    rate_limits INTEGER NOT NULL DEFAULT 0,
    media_id INTEGER REFERENCES media (id) ON DELETE SET NULL,
    sent_by TEXT,
    media_source TEXT
);
INSERT INTO messages_new (id, direction, phone, client_id, kind, body, media_kind, status,
    automatic, priority, provider_message_id, wa_message_id, attempts, error, permanent_failure,
    next_attempt_at, created_at, updated_at, sent_at, rate_limits)
SELECT id, direction, phone, client_id, kind, body, media_kind, status,
    automatic, priority, provider_message_id, wa_message_id, attempts, error, permanent_failure,
    next_attempt_at, created_at, updated_at, sent_at, rate_limits
FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE INDEX messages_status ON messages (status, next_attempt_at);
CREATE INDEX messages_phone ON messages (phone, created_at);
CREATE INDEX messages_created ON messages (created_at);
CREATE INDEX messages_provider_id ON messages (provider_message_id);
CREATE INDEX messages_inbound_phone ON messages (phone, id) WHERE direction = 'in';
CREATE INDEX messages_out_created ON messages (created_at, kind, status) WHERE direction = 'out';
CREATE INDEX messages_media ON messages (media_id) WHERE media_id IS NOT NULL;

CREATE TABLE inbox (
    id INTEGER PRIMARY KEY,
    phone TEXT NOT NULL,
    client_id INTEGER REFERENCES clients (id) ON DELETE SET NULL,
    -- the latest reason: asked_person, receipt, not_understood, during_takeover
    reason TEXT NOT NULL CHECK (reason IN ('asked_person', 'receipt', 'not_understood', 'during_takeover')),
    -- since when the customer has waited (the first reason; kept by later ones)
    waiting_since TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    resolved_at TEXT,
    -- staff email, or "whatsapp:<phone>" for /bandeja
    resolved_by TEXT
);
CREATE UNIQUE INDEX inbox_open_phone ON inbox (phone) WHERE resolved_at IS NULL;
CREATE INDEX inbox_waiting ON inbox (waiting_since) WHERE resolved_at IS NULL;
COMMIT;
PRAGMA foreign_keys = ON;
