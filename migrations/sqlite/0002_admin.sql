-- Staff web panel: users, sessions, audit log, login rate limiting. SQLite.
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    -- argon2id PHC string
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_login_at TEXT
);
CREATE UNIQUE INDEX users_email_ci ON users (lower(email));

-- Only a SHA-256 of the random session token is stored.
CREATE TABLE admin_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    last_seen TEXT NOT NULL
);
CREATE INDEX admin_sessions_user ON admin_sessions (user_id);
CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    user_email TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX audit_log_created ON audit_log (created_at);

-- Failed logins, for the per-account and per-address limits.
CREATE TABLE login_attempts (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    address TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX login_attempts_email ON login_attempts (email, created_at);
CREATE INDEX login_attempts_address ON login_attempts (address, created_at);
