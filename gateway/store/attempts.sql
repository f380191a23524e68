-- The attempt log: one row per push attempt, written with COPY in batches by the recorder.

-- name: attempts_of_deliveries
SELECT delivery_id, time, status_code, error_class, message, latency, response
FROM attempts
WHERE delivery_id = ANY ($1::bigint[]) AND project_id = $2
ORDER BY delivery_id, time, attempt;

-- name: delete_old_attempts
-- Retention in bounded batches: the BRIN index on time finds the old pages cheaply.
DELETE FROM attempts WHERE ctid IN (SELECT ctid FROM attempts WHERE time < $1 LIMIT $2);
