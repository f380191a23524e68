-- Service accounts as DT has them: an account (email, display name, whether Basic auth is
-- allowed) holds several keys, so a key is rotated by creating a new one and deleting the old.
-- Memberships name accounts; an access token names the key that obtained it, so deleting a key
-- ends its tokens at once. One organization per installation holds every project.

CREATE TABLE organizations (
    id           text PRIMARY KEY,
    display_name text NOT NULL,
    created_at   timestamptz NOT NULL
);
-- md5's hex digits are base32hex digits: a 20-character id in DT's alphabet.
INSERT INTO organizations (id, display_name, created_at)
VALUES (substr(md5(random()::text || clock_timestamp()::text), 1, 20), 'organization',
        clock_timestamp());

-- Set while a deleted project's rows are removed in batches; such a project answers 404.
ALTER TABLE projects ADD COLUMN deleted_at timestamptz;

CREATE TABLE accounts (
    id           text PRIMARY KEY,
    -- The project the account belongs to; NULL for an organization's own account.
    project_id   text REFERENCES projects ON DELETE CASCADE,
    email        text NOT NULL UNIQUE,
    display_name text NOT NULL,
    basic_auth   boolean NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX accounts_project ON accounts (project_id, id);

-- Only each secret's SHA-256 is kept (see 001_schema.sql).
CREATE TABLE account_keys (
    id            text PRIMARY KEY,
    account_id    text NOT NULL REFERENCES accounts ON DELETE CASCADE,
    secret_sha256 bytea NOT NULL,
    created_at    timestamptz NOT NULL
);
CREATE INDEX account_keys_account ON account_keys (account_id, id);

-- Every existing account keeps its id as the id of its one key, and keeps Basic auth.
INSERT INTO accounts (id, project_id, email, display_name, basic_auth, created_at, updated_at)
SELECT a.key_id,
       (SELECT m.project_id FROM members m WHERE m.key_id = a.key_id
        ORDER BY m.project_id LIMIT 1),
       a.email, '', true, a.created_at, a.created_at
FROM service_accounts a;
INSERT INTO account_keys (id, account_id, secret_sha256, created_at)
SELECT key_id, key_id, secret_sha256, created_at FROM service_accounts;

ALTER TABLE members ADD COLUMN created_at timestamptz;
UPDATE members m SET created_at = a.created_at FROM service_accounts a WHERE a.key_id = m.key_id;
ALTER TABLE members ALTER COLUMN created_at SET NOT NULL;
ALTER TABLE members DROP CONSTRAINT members_key_id_fkey;
ALTER TABLE members RENAME COLUMN key_id TO account_id;
ALTER TABLE members
    ADD CONSTRAINT members_account_id_fkey FOREIGN KEY (account_id)
    REFERENCES accounts ON DELETE CASCADE;
ALTER INDEX members_key_id RENAME TO members_account_id;

ALTER TABLE access_tokens DROP CONSTRAINT access_tokens_key_id_fkey;
ALTER TABLE access_tokens
    ADD CONSTRAINT access_tokens_key_id_fkey FOREIGN KEY (key_id)
    REFERENCES account_keys ON DELETE CASCADE;
CREATE INDEX access_tokens_key_id ON access_tokens (key_id);

DROP TABLE service_accounts;

-- Accounts holding roles/organization.admin: administrators of every project.
CREATE TABLE organization_members (
    organization_id text NOT NULL REFERENCES organizations ON DELETE CASCADE,
    account_id      text NOT NULL REFERENCES accounts ON DELETE CASCADE,
    role            text NOT NULL,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (organization_id, account_id)
);
CREATE INDEX organization_members_account ON organization_members (account_id);
