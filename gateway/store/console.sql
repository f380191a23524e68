-- name: console_insert_session
INSERT INTO console_sessions (token_sha256, key_id, csrf_token, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5);

-- name: console_session
-- A session that has not expired; an expired one is as good as none.
SELECT key_id, csrf_token, expires_at
FROM console_sessions
WHERE token_sha256 = $1 AND expires_at > $2;

-- name: console_delete_session
DELETE FROM console_sessions WHERE token_sha256 = $1;

-- name: console_delete_expired_sessions
-- Bounded, so a sign-in never waits on a large cleanup.
DELETE FROM console_sessions
WHERE token_sha256 IN (
    SELECT token_sha256 FROM console_sessions WHERE expires_at <= $1 LIMIT $2
);

-- name: console_project_names
-- The names of the projects an account holds roles in: the console's first page.
SELECT id, display_name
FROM projects
WHERE id = ANY($1::text[]) AND deleted_at IS NULL
ORDER BY display_name, id;

-- name: console_live_projects
-- An organization administrator's projects: every one not being deleted.
SELECT id, display_name
FROM projects
WHERE deleted_at IS NULL
ORDER BY display_name, id
LIMIT 1000;

-- name: console_push_minutes
-- Successes and errors per connector per minute (summed over latency buckets) since $2.
SELECT connector_id, minute, sum(successes)::bigint AS successes, sum(errors)::bigint AS errors
FROM push_stats
WHERE project_id = $1 AND minute >= $2
GROUP BY connector_id, minute
ORDER BY connector_id, minute;

-- name: console_push_buckets
-- Attempts per connector per latency bucket since $2: each connector's p99.
SELECT connector_id, bucket, sum(successes + errors)::bigint AS attempts
FROM push_stats
WHERE project_id = $1 AND minute >= $2
GROUP BY connector_id, bucket;

-- name: console_connector_health
SELECT id, failing_since, last_success_at
FROM connectors
WHERE project_id = $1
ORDER BY id;
