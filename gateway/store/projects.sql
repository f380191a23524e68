-- The organization, its projects, their members, and removing a deleted project's rows.

-- name: organization
SELECT id, display_name FROM organizations ORDER BY created_at LIMIT 1;

-- name: list_projects
-- The live projects among $1 (all live projects when $1 is NULL) whose name contains $2.
SELECT p.id, p.display_name,
       (SELECT count(*) FILTER (WHERE d.type <> 'ccon') FROM devices d WHERE d.project_id = p.id)
           AS sensors,
       (SELECT count(*) FILTER (WHERE d.type = 'ccon') FROM devices d WHERE d.project_id = p.id)
           AS cloud_connectors
FROM projects p
WHERE p.deleted_at IS NULL AND p.id > $3
  AND ($1::text[] IS NULL OR p.id = ANY ($1::text[]))
  AND strpos(lower(p.display_name), lower($2)) > 0
ORDER BY p.id
LIMIT $4;

-- name: get_project
SELECT p.id, p.display_name,
       (SELECT count(*) FILTER (WHERE d.type <> 'ccon') FROM devices d WHERE d.project_id = p.id)
           AS sensors,
       (SELECT count(*) FILTER (WHERE d.type = 'ccon') FROM devices d WHERE d.project_id = p.id)
           AS cloud_connectors
FROM projects p
WHERE p.id = $1 AND p.deleted_at IS NULL;

-- name: rename_project
UPDATE projects SET display_name = $2 WHERE id = $1 AND deleted_at IS NULL RETURNING id;

-- name: mark_project_deleted
-- From here on the project answers 404; its rows are removed in batches afterwards.
UPDATE projects SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL RETURNING id;

-- name: delete_project_connectors
DELETE FROM connectors WHERE project_id = $1;

-- name: projects_being_deleted
SELECT id FROM projects WHERE deleted_at IS NOT NULL ORDER BY deleted_at;

-- name: purge_deliveries
DELETE FROM deliveries
WHERE id IN (SELECT id FROM deliveries WHERE project_id = $1 LIMIT $2 FOR UPDATE SKIP LOCKED);

-- name: purge_reported
DELETE FROM reported
WHERE ctid IN (SELECT ctid FROM reported WHERE project_id = $1 LIMIT $2);

-- name: purge_events
DELETE FROM events
WHERE ctid IN (SELECT ctid FROM events WHERE project_id = $1 LIMIT $2);

-- name: purge_push_stats
DELETE FROM push_stats
WHERE ctid IN (SELECT ctid FROM push_stats WHERE project_id = $1 LIMIT $2);

-- name: purge_devices
DELETE FROM devices
WHERE ctid IN (SELECT ctid FROM devices WHERE project_id = $1 LIMIT $2);

-- name: delete_project_row
-- Last: its members, accounts, keys and tokens go with it (ON DELETE CASCADE).
DELETE FROM projects WHERE id = $1 AND deleted_at IS NOT NULL;

-- name: list_members
SELECT m.account_id, m.role, m.created_at, a.email, a.display_name
FROM members m JOIN accounts a ON a.id = m.account_id
WHERE m.project_id = $1 AND m.account_id > $2
ORDER BY m.account_id
LIMIT $3;

-- name: get_member
SELECT m.account_id, m.role, m.created_at, a.email, a.display_name
FROM members m JOIN accounts a ON a.id = m.account_id
WHERE m.project_id = $1 AND m.account_id = $2;

-- name: insert_member
INSERT INTO members (project_id, account_id, role, created_at)
SELECT $1, a.id, $3, $4 FROM accounts a WHERE a.email = $2
ON CONFLICT (project_id, account_id) DO NOTHING
RETURNING account_id;

-- name: lock_project_admins
SELECT account_id FROM members
WHERE project_id = $1 AND role = 'roles/project.admin'
FOR UPDATE;

-- name: set_member_role
UPDATE members SET role = $3 WHERE project_id = $1 AND account_id = $2 RETURNING account_id;

-- name: delete_member
DELETE FROM members WHERE project_id = $1 AND account_id = $2 RETURNING account_id;

-- name: account_by_email
SELECT id FROM accounts WHERE email = $1;

-- name: find_device
-- A device among the caller's live projects (all of them when $1 is NULL), for
-- GET /projects/-/devices/{d}.
SELECT d.* FROM devices d JOIN projects p ON p.id = d.project_id AND p.deleted_at IS NULL
WHERE ($1::text[] IS NULL OR d.project_id = ANY ($1::text[])) AND d.id = $2
ORDER BY d.project_id
LIMIT 1;
