-- Payment links (issue 16): one unguessable token per subscription and end
-- date, created when a reminder or the "renovar" reply is rendered; opening
-- it creates the provider's checkout for the price at that moment.
CREATE TABLE payment_links (
    id INTEGER PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    subscription_id INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    end_date TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (subscription_id, end_date)
);
-- Payments the providers reported, once each: unique on (provider,
-- payment id), so duplicate, replayed or concurrent notifications renew
-- once. `outcome`: renewed | double | amount_mismatch | unknown_reference;
-- `status` follows the provider (approved, refunded, charged_back).
CREATE TABLE payments (
    id INTEGER PRIMARY KEY,
    provider TEXT NOT NULL,
    payment_id TEXT NOT NULL,
    link_id INTEGER REFERENCES payment_links (id) ON DELETE SET NULL,
    subscription_id INTEGER REFERENCES subscriptions (id) ON DELETE SET NULL,
    client_id INTEGER REFERENCES clients (id) ON DELETE SET NULL,
    amount_cents INTEGER NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    outcome TEXT NOT NULL,
    renewal_id INTEGER REFERENCES renewals (id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (provider, payment_id)
);
CREATE INDEX payments_created ON payments (created_at);
CREATE INDEX payments_client ON payments (client_id, id);
