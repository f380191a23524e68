-- name: lock_project_row
-- Locks the project's row (NO KEY UPDATE: inserts referencing it still pass) so that concurrent
-- creates in one project count their connectors one after another, never both under the limit.
SELECT 1 FROM projects WHERE id = $1 FOR NO KEY UPDATE;

-- name: count_project_connectors
-- A statement of its own, after the lock: its snapshot sees what the lock's holder committed.
SELECT count(*) FROM connectors WHERE project_id = $1;
