-- Removing a whole project: the demo's throwaway project when it runs on a configured database.
-- Rows without a foreign key to projects (the queue, events, statistics) go first; the project's
-- own delete then cascades to its members, connectors and devices.

-- name: lock_connectors_of_project
-- Connectors first, then their queue: the order in which outcomes are recorded, so the two never
-- wait for each other.
SELECT id FROM connectors WHERE project_id = $1 ORDER BY id FOR UPDATE;

-- name: delete_project_deliveries
DELETE FROM deliveries WHERE project_id = $1;

-- name: delete_project_events
DELETE FROM events WHERE project_id = $1;

-- name: delete_project_reported
DELETE FROM reported WHERE project_id = $1;

-- name: delete_project_push_stats
DELETE FROM push_stats WHERE project_id = $1;

-- name: delete_project_only_accounts
-- Service accounts that belong to this project, with their keys, tokens and memberships.
DELETE FROM accounts WHERE project_id = $1;

-- name: delete_project
DELETE FROM projects WHERE id = $1;
