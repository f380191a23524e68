-- The delivery log: deliveries that left the queue (delivered or dropped), replay, redelivery
-- and :test pushes. A delivery keeps its id from queue to log. Times are parameters.

-- name: finish_deliveries
-- Delivered: out of the queue and into the log in one statement per batch of outcomes. The
-- pushes' event types and devices ($2, $3) come with the ids, so no event is read again.
WITH done AS (
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u (id, event_type, device_id)
), gone AS (
    DELETE FROM deliveries d USING done
    WHERE d.id = done.id
    RETURNING d.id, d.project_id, d.connector_id, d.event_id, d.created_at, done.event_type,
              done.device_id
)
INSERT INTO finished_deliveries
    (id, project_id, connector_id, event_id, event_type, device_id, status, drop_reason, test,
     created_at, finished_at)
SELECT id, project_id, connector_id, event_id, event_type, device_id, 'DELIVERED', '', false,
       created_at, $4
FROM gone;

-- name: drop_settled_deliveries
-- Claimed deliveries the dispatcher settled without a push ($1): past their age, or their
-- connector is no longer ACTIVE (deleted, or disabled since the claim). Each goes to the log with
-- its reason; the counts per reason come back.
WITH gone AS (
    DELETE FROM deliveries WHERE id = ANY ($1::bigint[])
    RETURNING id, project_id, connector_id, event_id, created_at, expires_at
), logged AS (
    INSERT INTO finished_deliveries
        (id, project_id, connector_id, event_id, event_type, device_id, status, drop_reason,
         test, created_at, finished_at)
    SELECT g.id, g.project_id, g.connector_id, g.event_id, coalesce(e.event_type, ''),
           coalesce(e.device_id, ''), 'DROPPED',
           CASE WHEN g.expires_at <= $2 THEN 'EXPIRED'
                WHEN c.id IS NULL THEN 'CONNECTOR_DELETED'
                ELSE 'CONNECTOR_DISABLED' END,
           false, g.created_at, $2
    FROM gone g
    LEFT JOIN events e ON e.project_id = g.project_id AND e.id = g.event_id
    LEFT JOIN connectors c ON c.project_id = g.project_id AND c.id = g.connector_id
    RETURNING drop_reason
)
SELECT drop_reason, count(*) AS n FROM logged GROUP BY drop_reason;

-- name: drop_filtered_deliveries
-- A connector's filter now takes only the types $3 (never empty here): its queued deliveries of
-- other types are dropped, not pushed.
WITH gone AS (
    DELETE FROM deliveries d USING events e
    WHERE d.project_id = $1 AND d.connector_id = $2
      AND e.project_id = d.project_id AND e.id = d.event_id
      AND e.event_type <> ALL ($3::text[])
    RETURNING d.id, d.project_id, d.connector_id, d.event_id, d.created_at, e.event_type,
              e.device_id
)
INSERT INTO finished_deliveries
    (id, project_id, connector_id, event_id, event_type, device_id, status, drop_reason, test,
     created_at, finished_at)
SELECT id, project_id, connector_id, event_id, event_type, device_id, 'DROPPED',
       'FILTER_CHANGED', false, created_at, $4
FROM gone;

-- name: list_deliveries
-- A connector's deliveries, newest first (ids grow with time), those still queued and those in
-- the log alike. Filters: status $3 and event id $4 ('' = any), created in [$5, $6) (NULL =
-- open), ids below $7 (the page token). A queued delivery with an attempt on record failed it.
SELECT * FROM (
    SELECT d.id, d.event_id, coalesce(e.event_type, '') AS event_type,
           coalesce(e.device_id, '') AS device_id,
           CASE WHEN EXISTS (SELECT 1 FROM attempts a WHERE a.delivery_id = d.id)
                THEN 'RETRYING' ELSE 'PENDING' END AS status,
           '' AS drop_reason, false AS test, d.created_at, d.due_at AS next_attempt_at
    FROM deliveries d
    LEFT JOIN events e ON e.project_id = d.project_id AND e.id = d.event_id
    WHERE d.project_id = $1 AND d.connector_id = $2 AND d.id < $7
      AND $3 IN ('', 'PENDING', 'RETRYING') AND ($4 = '' OR d.event_id = $4)
      AND ($5::timestamptz IS NULL OR d.created_at >= $5)
      AND ($6::timestamptz IS NULL OR d.created_at < $6)
    UNION ALL
    SELECT id, event_id, event_type, device_id, status, drop_reason, test, created_at,
           NULL AS next_attempt_at
    FROM finished_deliveries
    WHERE project_id = $1 AND connector_id = $2 AND id < $7
      AND ($3 = '' OR status = $3) AND ($4 = '' OR event_id = $4)
      AND ($5::timestamptz IS NULL OR created_at >= $5)
      AND ($6::timestamptz IS NULL OR created_at < $6)
) AS log
WHERE $3 = '' OR status = $3
ORDER BY id DESC
LIMIT $8;

-- name: get_delivery
SELECT * FROM (
    SELECT d.id, d.event_id, coalesce(e.event_type, '') AS event_type,
           coalesce(e.device_id, '') AS device_id,
           CASE WHEN EXISTS (SELECT 1 FROM attempts a WHERE a.delivery_id = d.id)
                THEN 'RETRYING' ELSE 'PENDING' END AS status,
           '' AS drop_reason, false AS test, d.created_at, d.due_at AS next_attempt_at
    FROM deliveries d
    LEFT JOIN events e ON e.project_id = d.project_id AND e.id = d.event_id
    WHERE d.project_id = $1 AND d.connector_id = $2 AND d.id = $3
    UNION ALL
    SELECT id, event_id, event_type, device_id, status, drop_reason, test, created_at,
           NULL AS next_attempt_at
    FROM finished_deliveries
    WHERE project_id = $1 AND connector_id = $2 AND id = $3
) AS log
LIMIT 1;

-- name: connector_in_log
-- Whether a connector (perhaps deleted since) has deliveries on record.
SELECT EXISTS (SELECT 1 FROM finished_deliveries WHERE project_id = $1 AND connector_id = $2);

-- name: replay_events
-- :replay queues again, for one connector, the events stored in [$3, $4) that its filter ($5)
-- and the caller's types ($6) and devices ($7) take ('{}' = all); with $8, only those neither
-- delivered to it nor queued for it. Nothing is queued when there are more than $10: the answer
-- says how many there would be. A failing connector's new deliveries wait for its retry.
WITH candidates AS (
    SELECT e.id FROM events e
    WHERE e.project_id = $1 AND e.created_at >= $3 AND e.created_at < $4
      AND (cardinality($5::text[]) = 0 OR e.event_type = ANY ($5::text[]))
      AND (cardinality($6::text[]) = 0 OR e.event_type = ANY ($6::text[]))
      AND (cardinality($7::text[]) = 0 OR e.device_id = ANY ($7::text[]))
      AND (NOT $8 OR (
          NOT EXISTS (SELECT 1 FROM finished_deliveries f
                      WHERE f.project_id = $1 AND f.connector_id = $2 AND f.event_id = e.id
                        AND f.status = 'DELIVERED')
          AND NOT EXISTS (SELECT 1 FROM deliveries d
                          WHERE d.project_id = $1 AND d.connector_id = $2
                            AND d.event_id = e.id)))
), counted AS (
    SELECT count(*) AS n FROM candidates
), queued AS (
    INSERT INTO deliveries (project_id, connector_id, event_id, due_at, expires_at, created_at)
    SELECT $1, $2, candidates.id,
           CASE WHEN c.failure_streak > 0 THEN greatest($9, c.retry_at) ELSE $9 END, $11, $9
    FROM candidates
    JOIN connectors c ON c.project_id = $1 AND c.id = $2
    WHERE (SELECT n FROM counted) <= $10
    RETURNING 1
)
SELECT (SELECT n FROM counted) AS candidates, (SELECT count(*) FROM queued) AS queued;

-- name: redeliver_events
-- :redeliver queues the named events ($3) of the project again for one connector; the ids
-- queued come back, so the caller can name the unknown ones.
INSERT INTO deliveries (project_id, connector_id, event_id, due_at, expires_at, created_at)
SELECT $1, $2, e.id, CASE WHEN c.failure_streak > 0 THEN greatest($4, c.retry_at) ELSE $4 END,
       $5, $4
FROM events e
JOIN connectors c ON c.project_id = $1 AND c.id = $2
WHERE e.project_id = $1 AND e.id = ANY ($3::text[])
RETURNING event_id;

-- name: take_test_push
-- Counts one :test push against the connector's allowance of $4 a minute; no row = refused.
UPDATE connectors
SET tests_in_window = CASE WHEN test_window_start IS NULL
                             OR test_window_start <= $3::timestamptz - interval '1 minute'
                           THEN 1 ELSE tests_in_window + 1 END,
    test_window_start = CASE WHEN test_window_start IS NULL
                               OR test_window_start <= $3::timestamptz - interval '1 minute'
                             THEN $3 ELSE test_window_start END
WHERE project_id = $1 AND id = $2
  AND (test_window_start IS NULL OR test_window_start <= $3::timestamptz - interval '1 minute'
       OR tests_in_window < $4)
RETURNING id;

-- name: test_window_start
SELECT test_window_start FROM connectors WHERE project_id = $1 AND id = $2;

-- name: next_delivery_id
-- A :test push is not queued, yet has an id from the same sequence as queued deliveries.
SELECT nextval(pg_get_serial_sequence('deliveries', 'id'));

-- name: log_test_delivery
INSERT INTO finished_deliveries
    (id, project_id, connector_id, event_id, event_type, device_id, status, drop_reason, test,
     created_at, finished_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, '', true, $8, $8);

-- name: delete_old_finished_deliveries
DELETE FROM finished_deliveries
WHERE ctid IN (SELECT ctid FROM finished_deliveries WHERE finished_at < $1 LIMIT $2);

-- name: delete_project_attempts
-- A project removed with everything it holds (store/cleanup.py) takes its delivery log along.
DELETE FROM attempts WHERE project_id = $1;

-- name: delete_project_finished_deliveries
DELETE FROM finished_deliveries WHERE project_id = $1;
