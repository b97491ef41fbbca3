-- avisa schema, SQLite. Timestamps are written by the application (RFC 3339, UTC).
CREATE TABLE clients (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    phone TEXT NOT NULL UNIQUE,
    email TEXT,
    opted_out_at TEXT,
    notes TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX clients_name ON clients (lower(name));

CREATE TABLE services (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    default_price_cents INTEGER,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX services_name_ci ON services (lower(name));

CREATE TABLE subscriptions (
    id INTEGER PRIMARY KEY,
    client_id INTEGER NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    service_id INTEGER NOT NULL REFERENCES services (id),
    end_date TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
    currency TEXT NOT NULL DEFAULT 'USD',
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (client_id, service_id)
);
CREATE INDEX subscriptions_end_date ON subscriptions (end_date, status);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    phone TEXT NOT NULL,
    client_id INTEGER REFERENCES clients (id) ON DELETE SET NULL,
    kind TEXT NOT NULL CHECK (kind IN ('reminder', 'reply', 'staff', 'notice')),
    body TEXT NOT NULL,
    media_kind TEXT,
    status TEXT NOT NULL CHECK (status IN ('received', 'processed', 'queued', 'sending', 'sent', 'delivered', 'read', 'failed', 'cancelled')),
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
    sent_at TEXT
);
CREATE INDEX messages_status ON messages (status, next_attempt_at);
CREATE INDEX messages_phone ON messages (phone, created_at);
CREATE INDEX messages_created ON messages (created_at);
CREATE INDEX messages_provider_id ON messages (provider_message_id);

CREATE TABLE reminders (
    id INTEGER PRIMARY KEY,
    subscription_id INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    end_date TEXT NOT NULL,
    tier INTEGER NOT NULL,
    days_left INTEGER NOT NULL,
    planned_on TEXT NOT NULL,
    message_id INTEGER REFERENCES messages (id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    UNIQUE (subscription_id, end_date, tier)
);
CREATE INDEX reminders_planned_on ON reminders (planned_on);
CREATE INDEX reminders_message ON reminders (message_id);

CREATE TABLE conversations (
    phone TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE renewal_requests (
    id INTEGER PRIMARY KEY,
    client_id INTEGER NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    subscription_id INTEGER REFERENCES subscriptions (id) ON DELETE CASCADE,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    receipt_message_id INTEGER REFERENCES messages (id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    closed_at TEXT
);
CREATE INDEX renewal_requests_open ON renewal_requests (status, client_id);

CREATE TABLE renewals (
    id INTEGER PRIMARY KEY,
    subscription_id INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    staff TEXT NOT NULL,
    old_end_date TEXT NOT NULL,
    new_end_date TEXT NOT NULL,
    months INTEGER NOT NULL,
    amount_cents INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    undone_at TEXT
);
CREATE INDEX renewals_staff ON renewals (staff, created_at);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- "At most once per day" guards (unknown-number replies, staff notices).
CREATE TABLE daily_marks (
    mark TEXT NOT NULL,
    day TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (mark, day)
);
