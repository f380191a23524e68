-- Service accounts, their keys, memberships and access tokens.

-- name: create_project
INSERT INTO projects (id, display_name, created_at) VALUES ($1, $2, $3);

-- name: insert_account
INSERT INTO accounts (id, project_id, email, display_name, basic_auth, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $6)
RETURNING *;

-- name: insert_key
INSERT INTO account_keys (id, account_id, secret_sha256, created_at) VALUES ($1, $2, $3, $4)
RETURNING id, account_id, created_at;

-- name: add_member
INSERT INTO members (project_id, account_id, role, created_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (project_id, account_id) DO UPDATE SET role = excluded.role;

-- name: add_organization_member
INSERT INTO organization_members (organization_id, account_id, role, created_at)
VALUES ($1, $2, $3, $4)
ON CONFLICT (organization_id, account_id) DO UPDATE SET role = excluded.role;

-- name: key_for_assertion
-- A key and its account's email, which a JWT-bearer assertion must name as its issuer.
SELECT k.id, k.secret_sha256, a.email
FROM account_keys k JOIN accounts a ON a.id = k.account_id
WHERE k.id = $1;

-- name: grants_of_key
-- What a key may do: one row per project it holds a role in, or one row with NULL project for
-- none (an organization admin's projects are checked one by one, as they are asked for). No
-- rows: no such key.
SELECT k.account_id, k.secret_sha256, a.basic_auth, o.account_id IS NOT NULL AS organization_admin,
       g.project_id, g.role
FROM account_keys k
JOIN accounts a ON a.id = k.account_id
LEFT JOIN organization_members o ON o.account_id = a.id
LEFT JOIN LATERAL (
    SELECT m.project_id, m.role FROM members m
    JOIN projects p ON p.id = m.project_id AND p.deleted_at IS NULL
    WHERE m.account_id = a.id AND o.account_id IS NULL
) g ON true
WHERE k.id = $1;

-- name: live_project
SELECT id FROM projects WHERE id = $1 AND deleted_at IS NULL;

-- name: key_of_access_token
SELECT key_id FROM access_tokens WHERE token_sha256 = $1 AND expires_at > $2;

-- name: insert_access_token
INSERT INTO access_tokens (token_sha256, key_id, expires_at) VALUES ($1, $2, $3);

-- name: delete_expired_access_tokens
DELETE FROM access_tokens WHERE expires_at <= $1;

-- name: list_accounts
SELECT * FROM accounts WHERE project_id = $1 AND id > $2 ORDER BY id LIMIT $3;

-- name: list_organization_accounts
SELECT a.* FROM accounts a JOIN organization_members o ON o.account_id = a.id ORDER BY a.id;

-- name: get_account
SELECT * FROM accounts WHERE project_id = $1 AND id = $2;

-- name: get_account_for_update
SELECT * FROM accounts WHERE project_id = $1 AND id = $2 FOR UPDATE;

-- name: update_account
UPDATE accounts SET display_name = $3, basic_auth = $4, updated_at = $5
WHERE project_id = $1 AND id = $2
RETURNING *;

-- name: delete_account
DELETE FROM accounts WHERE project_id = $1 AND id = $2 RETURNING id;

-- name: delete_account_by_id
DELETE FROM accounts WHERE id = $1 RETURNING id;

-- name: account_by_id
SELECT * FROM accounts WHERE id = $1;

-- name: list_keys
SELECT id, account_id, created_at FROM account_keys
WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3;

-- name: get_key
SELECT id, account_id, created_at FROM account_keys WHERE account_id = $1 AND id = $2;

-- name: delete_key
-- Its access tokens go with it (ON DELETE CASCADE): they stop working at once.
DELETE FROM account_keys WHERE account_id = $1 AND id = $2 RETURNING id;

-- name: delete_key_by_id
DELETE FROM account_keys WHERE id = $1 RETURNING id, account_id;

-- name: projects_left_without_admin
-- The projects where this account is the only administrator: removing it would leave none.
SELECT m.project_id FROM members m
WHERE m.account_id = $1 AND m.role = 'roles/project.admin'
  AND NOT EXISTS (
      SELECT 1 FROM members o
      WHERE o.project_id = m.project_id AND o.account_id <> $1
        AND o.role = 'roles/project.admin');

-- name: lock_admins_of_account_projects
-- Locks the administrator rows of every project this account administers, so two removals
-- cannot each leave the other as the last administrator.
SELECT 1 FROM members
WHERE role = 'roles/project.admin'
  AND project_id IN (SELECT project_id FROM members WHERE account_id = $1)
FOR UPDATE;
