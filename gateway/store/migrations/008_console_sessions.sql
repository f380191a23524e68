-- Web console sign-ins. Only the digest of the cookie's token is kept, so reading this table
-- gives no one a session. No foreign key to the account: each request reads the account's
-- current roles, so a deleted key's sessions stop working at once whatever its schema.
CREATE TABLE console_sessions (
    token_sha256 bytea PRIMARY KEY,
    key_id       text NOT NULL,
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX console_sessions_key_id ON console_sessions (key_id);
CREATE INDEX console_sessions_expires_at ON console_sessions (expires_at);
