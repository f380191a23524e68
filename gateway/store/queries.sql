-- Every runtime query of the gateway, as named blocks ("-- name: <name>") loaded once.
-- Times are parameters, never now(): they come from the application's clock.

-- name: list_connectors
SELECT * FROM connectors WHERE project_id = $1 AND id > $2 ORDER BY id LIMIT $3;

-- name: get_connector
SELECT * FROM connectors WHERE project_id = $1 AND id = $2;

-- name: get_connector_for_update
SELECT * FROM connectors WHERE project_id = $1 AND id = $2 FOR UPDATE;

-- name: insert_connector
INSERT INTO connectors
    (project_id, id, display_name, status, events, labels, url, signature_secret, headers,
     type, config, sealed_secrets, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8, $9, $10, $11, $12)
RETURNING *;

-- name: update_connector
-- Re-enabling, or pointing at a new destination ($12), starts a fresh failure record (a disabled
-- connector's queue was dropped when it was disabled). The caller compares the destinations:
-- a new password or token changes only the sealed value, which no SQL can read.
WITH fresh AS (
    SELECT ($4 = 'ACTIVE' AND status <> 'ACTIVE') OR $12::boolean AS start_over
    FROM connectors WHERE project_id = $1 AND id = $2
)
UPDATE connectors
SET display_name = $3, status = $4, events = $5, labels = $6, url = $7, headers = $8,
    type = $9, config = $10, signature_secret = '', sealed_secrets = $11,
    failing_since = CASE WHEN fresh.start_over THEN NULL ELSE failing_since END,
    failure_streak = CASE WHEN fresh.start_over THEN 0 ELSE failure_streak END,
    retry_at = CASE WHEN fresh.start_over THEN NULL ELSE retry_at END
FROM fresh
WHERE project_id = $1 AND id = $2
RETURNING connectors.*;

-- name: delete_connector
DELETE FROM connectors WHERE project_id = $1 AND id = $2 RETURNING id;

-- name: drop_connector_queue
-- A connector disabled or deleted loses its queue; each delivery goes to the log with reason $3.
WITH gone AS (
    DELETE FROM deliveries WHERE project_id = $1 AND connector_id = $2
    RETURNING id, project_id, connector_id, event_id, created_at
)
INSERT INTO finished_deliveries
    (id, project_id, connector_id, event_id, event_type, device_id, status, drop_reason, test,
     created_at, finished_at)
SELECT g.id, g.project_id, g.connector_id, g.event_id, coalesce(e.event_type, ''),
       coalesce(e.device_id, ''), 'DROPPED', $3, false, g.created_at, $4
FROM gone g LEFT JOIN events e ON e.project_id = g.project_id AND e.id = g.event_id;

-- name: notify_connector_changed
SELECT pg_notify('gateway_connectors', $1);

-- name: connectors_of_project
SELECT * FROM connectors WHERE project_id = $1;

-- name: count_connectors_by_status
SELECT status, count(*) AS n FROM connectors GROUP BY status;

-- name: insert_device
INSERT INTO devices (project_id, id, type, product_number, labels, created_at)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING *;

-- name: list_devices
-- Filters: ids ($4) and types ($5) when not empty, labels containing $6, having keys $7.
SELECT * FROM devices
WHERE project_id = $1 AND id > $2
  AND (cardinality($4::text[]) = 0 OR id = ANY ($4::text[]))
  AND (cardinality($5::text[]) = 0 OR type = ANY ($5::text[]))
  AND labels @> $6::jsonb AND labels ?& $7::text[]
ORDER BY id
LIMIT $3;

-- name: get_device
SELECT * FROM devices WHERE project_id = $1 AND id = $2;

-- name: devices_for_update
SELECT * FROM devices WHERE project_id = $1 AND id = ANY ($2::text[]) ORDER BY id FOR UPDATE;

-- name: set_device_labels
UPDATE devices SET labels = $3 WHERE project_id = $1 AND id = $2;

-- name: delete_device
WITH gone AS (
    DELETE FROM devices WHERE project_id = $1 AND id = $2 RETURNING id
), forgotten AS (
    DELETE FROM reported WHERE project_id = $1 AND device_id = $2
)
SELECT id FROM gone;

-- name: reported_of_devices
-- The latest event of each type of each device, for the devices' `reported` maps.
SELECT r.device_id, r.event_type, e.body
FROM reported r
JOIN events e ON e.project_id = r.project_id AND e.id = r.event_id
WHERE r.project_id = $1 AND r.device_id = ANY ($2::text[]);

-- name: store_events
-- Stores new events (an id already stored is skipped and its stored body returned: publishing
-- is idempotent), moves each
-- device's latest event per type forward, and queues one delivery per matching ACTIVE connector,
-- all in one statement, or nothing when an event names an unknown device.
-- Parameters: project, now, expires_at, one array per column ($4-$8), then what this process's
-- dispatcher takes at once ($9-$12, gateway/ingest/hand_off.py): those deliveries are leased
-- to it by this statement and returned (taken, taken_devices) instead of being claimed.
WITH input AS (
    SELECT e.id, e.device_id, e.event_type, e.timestamp, e.body,
           d.labels, d.type AS device_type, d.product_number
    FROM unnest($4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::bytea[])
         AS e (id, device_id, event_type, timestamp, body)
    JOIN devices d ON d.project_id = $1 AND d.id = e.device_id
), stored AS (
    INSERT INTO events
        (project_id, id, device_id, event_type, timestamp, body, labels, device_type,
         product_number, created_at)
    SELECT $1, id, device_id, event_type, timestamp, body, labels, device_type, product_number, $2
    FROM input
    WHERE (SELECT count(*) FROM input) = cardinality($4::text[])
    ON CONFLICT (project_id, id) DO NOTHING
    RETURNING id, device_id, event_type, timestamp
), latest AS (
    INSERT INTO reported (project_id, device_id, event_type, event_id, timestamp)
    SELECT DISTINCT ON (device_id, event_type) $1, device_id, event_type, id, timestamp
    FROM stored
    WHERE event_type <> 'labelsChanged'
    ORDER BY device_id, event_type, timestamp DESC
    ON CONFLICT (project_id, device_id, event_type) DO UPDATE
    SET event_id = excluded.event_id, timestamp = excluded.timestamp
    WHERE reported.timestamp <= excluded.timestamp
), takers AS (
    -- Connectors whose new deliveries this process takes at once, leased until $9 (NULL: none):
    -- not in probing, not closed in this process ($12), and with nothing older due: a backlog
    -- is left to the claim, oldest first, and new events do not overtake it.
    SELECT c.id FROM connectors c
    WHERE $9::timestamptz IS NOT NULL AND c.project_id = $1 AND c.status = 'ACTIVE'
      AND c.retry_at IS NULL AND c.id <> ALL ($12::text[])
      AND NOT EXISTS (SELECT FROM deliveries d
                      WHERE d.project_id = $1 AND d.connector_id = c.id AND d.due_at <= $2)
), matched AS (
    SELECT c.id AS connector_id, s.id AS event_id,
           t.id IS NOT NULL AND row_number() OVER (PARTITION BY c.id) <= $11 AS open
    FROM stored s
    JOIN connectors c
      ON c.project_id = $1 AND c.status = 'ACTIVE'
     AND (c.events = '{}' OR s.event_type = ANY (c.events))
    LEFT JOIN takers t ON t.id = c.id
), chosen AS (
    -- At most $11 of one connector and $10 in all are taken; the others are due now. A
    -- connector in probing holds its queue at claim time (connectors.retry_at).
    SELECT connector_id, event_id,
           open AND sum(open::int) OVER (ORDER BY connector_id, event_id) <= $10 AS taken
    FROM matched
), queued AS (
    INSERT INTO deliveries
        (project_id, connector_id, event_id, due_at, expires_at, created_at, attempts)
    SELECT $1, connector_id, event_id, CASE WHEN taken THEN $9 ELSE $2 END, $3, $2, taken::int
    FROM chosen
    RETURNING id, connector_id, event_id, attempts
), announced AS (
    -- Event streams in every replica hear of the new events on commit: "<project> <id> ...",
    -- 100 ids per notification, within PostgreSQL's 8000-byte payload limit.
    SELECT pg_notify('gateway_events', $1 || ' ' || string_agg(id, ' '))
    FROM (SELECT id, (row_number() OVER () - 1) / 100 AS chunk FROM stored) AS numbered
    GROUP BY chunk
), woken AS (
    -- Dispatchers hear of deliveries left to the claim on commit, from this same statement.
    SELECT pg_notify('gateway_deliveries', '') WHERE EXISTS (SELECT FROM queued WHERE attempts = 0)
)
-- The statement's snapshot of events holds no row `stored` inserts: these are the ids already
-- stored before, answered with what is stored rather than with the republished data.
SELECT (SELECT count(*) FROM input) AS known,
       (SELECT array_agg(event_type) FROM stored) AS stored_types,
       (SELECT count(*) FROM queued) AS queued,
       (SELECT array_agg(body) FROM events
        WHERE project_id = $1 AND id = ANY ($4::text[])) AS existing,
       (SELECT count(*) FROM announced) AS announced,
       (SELECT count(*) FROM woken) AS woken,
       (SELECT json_agg(json_build_array(id, connector_id, event_id))
        FROM queued WHERE attempts = 1) AS taken,
       (SELECT json_agg(json_build_array(device_id, labels, device_type, product_number))
        FROM (SELECT DISTINCT device_id, labels, device_type, product_number FROM input) AS d
        WHERE EXISTS (SELECT FROM queued WHERE attempts = 1)) AS taken_devices;

-- name: notify_deliveries
SELECT pg_notify('gateway_deliveries', '');

-- name: event_history
SELECT id, timestamp, body FROM events
WHERE project_id = $1 AND device_id = $2 AND timestamp >= $3 AND timestamp < $4
  AND (cardinality($5::text[]) = 0 OR event_type = ANY ($5::text[]))
  AND (timestamp, id) > ($6, $7)
ORDER BY timestamp, id
LIMIT $8;

-- name: enqueue_sync
-- :sync queues, for one connector, the latest event of each type of each device in the project.
INSERT INTO deliveries (project_id, connector_id, event_id, due_at, expires_at, created_at)
SELECT project_id, $2, event_id, $3, $4, $3
FROM reported
WHERE project_id = $1 AND (cardinality($5::text[]) = 0 OR event_type = ANY ($5::text[]));

-- name: claim_deliveries
-- Claims due deliveries connector by connector, in turn: the walk starts after the connector the
-- previous claim ended at ($6, $7) and visits only connectors that have deliveries (a loose scan
-- of deliveries_connector), so a long queue never starves a quiet one and idle connectors cost
-- nothing. At most $5 are taken per connector, oldest first; connectors whose lanes here are
-- full ($4) are passed over. Rows other dispatchers hold are skipped.
-- A connector in probing (retry_at set) gives one delivery once its retry time has come, and
-- its retry time moves past the lease, so no other claim probes it meanwhile.
-- The claim moves due_at past the lease: if this process dies, the rows become due again.
WITH RECURSIVE lanes AS (
    (SELECT project_id, connector_id FROM deliveries
     WHERE (project_id, connector_id) > ($6, $7)
     ORDER BY project_id, connector_id LIMIT 1)
    UNION ALL
    SELECT next.project_id, next.connector_id
    FROM lanes,
         LATERAL (SELECT project_id, connector_id FROM deliveries
                  WHERE (project_id, connector_id) > (lanes.project_id, lanes.connector_id)
                  ORDER BY project_id, connector_id LIMIT 1) AS next
), open_lanes AS (
    SELECT lanes.project_id, lanes.connector_id, c.retry_at IS NOT NULL AS probing
    FROM lanes
    LEFT JOIN connectors c ON c.project_id = lanes.project_id AND c.id = lanes.connector_id
    WHERE lanes.connector_id <> ALL ($4::text[]) AND (c.retry_at IS NULL OR c.retry_at <= $1)
), taken AS (
    SELECT due.id, open_lanes.project_id, open_lanes.connector_id, open_lanes.probing
    FROM open_lanes,
         LATERAL (SELECT id FROM deliveries
                  WHERE project_id = open_lanes.project_id
                    AND connector_id = open_lanes.connector_id
                    AND due_at <= $1
                    -- a probe must be a push; expired ones are swept
                    AND (NOT open_lanes.probing OR expires_at > $1)
                  ORDER BY due_at
                  LIMIT CASE WHEN open_lanes.probing THEN 1 ELSE $5 END
                  FOR UPDATE SKIP LOCKED) AS due
    LIMIT $2
), probes AS (
    UPDATE connectors c SET retry_at = $3
    FROM taken
    WHERE taken.probing AND c.project_id = taken.project_id AND c.id = taken.connector_id
)
UPDATE deliveries d
SET due_at = $3, attempts = d.attempts + 1
FROM taken, events e
WHERE d.id = taken.id AND e.project_id = d.project_id AND e.id = d.event_id
RETURNING d.id, d.project_id, d.connector_id, d.attempts, d.expires_at, taken.probing,
          e.id AS event_id, e.event_type, e.device_id, e.body, e.labels, e.device_type,
          e.product_number, e.created_at AS stored_at;

-- name: complete_deliveries
DELETE FROM deliveries WHERE id = ANY ($1::bigint[]);

-- name: release_deliveries
-- Hands claimed but unsent deliveries back at once (shutdown, or a lane that stopped early).
UPDATE deliveries SET due_at = $2, attempts = attempts - 1 WHERE id = ANY ($1::bigint[]);

-- name: retry_deliveries
-- Failed deliveries wait for their own retry time; the connector's others keep flowing.
UPDATE deliveries d SET due_at = u.due_at
FROM unnest($1::bigint[], $2::timestamptz[]) AS u (id, due_at)
WHERE d.id = u.id;

-- name: defer_deliveries
-- Claimed but not pushed (their connector went into probing meanwhile): they wait for the
-- connector's retry time, and the claim does not count as an attempt.
UPDATE deliveries d
SET due_at = greatest($2, coalesce(c.retry_at, $2)), attempts = d.attempts - 1
FROM connectors c
WHERE d.id = ANY ($1::bigint[]) AND c.project_id = d.project_id AND c.id = d.connector_id;

-- name: record_connector_outcomes
-- Each connector's pushes in one batch: whether one succeeded ($3), and the failed pushes after
-- its last success ($4). failure_streak counts failed pushes in a row; a success restarts it.
-- failing_since is the first failure since the last success (5 days of it disable).
UPDATE connectors c
SET failure_streak = CASE WHEN u.succeeded THEN u.failures
                          ELSE c.failure_streak + u.failures END,
    failing_since = CASE WHEN u.failures = 0 THEN NULL
                         WHEN u.succeeded THEN $5
                         ELSE coalesce(c.failing_since, $5) END,
    last_success_at = CASE WHEN u.succeeded THEN $5 ELSE c.last_success_at END,
    retry_at = NULL
FROM unnest($1::text[], $2::text[], $3::boolean[], $4::integer[])
     AS u (project_id, id, succeeded, failures)
WHERE c.project_id = u.project_id AND c.id = u.id AND c.status = 'ACTIVE'
RETURNING c.project_id, c.id, c.failure_streak;

-- name: set_connector_retries
-- Connectors in probing: the time of their next probe.
UPDATE connectors c SET retry_at = u.retry_at
FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u (project_id, id, retry_at)
WHERE c.project_id = u.project_id AND c.id = u.id;

-- name: auto_disable
-- Connectors failing without a success since before $3 are disabled and their queues dropped
-- into the log (CONNECTOR_DISABLED); each row also carries how many deliveries were dropped.
WITH disabled AS (
    UPDATE connectors c SET status = 'SYSTEM_DISABLED'
    FROM unnest($1::text[], $2::text[]) AS u (project_id, id)
    WHERE c.project_id = u.project_id AND c.id = u.id
      AND c.status = 'ACTIVE' AND c.failing_since <= $3
    RETURNING c.project_id, c.id
), dropped AS (
    DELETE FROM deliveries d USING disabled x
    WHERE d.project_id = x.project_id AND d.connector_id = x.id
    RETURNING d.id, d.project_id, d.connector_id, d.event_id, d.created_at
), logged AS (
    INSERT INTO finished_deliveries
        (id, project_id, connector_id, event_id, event_type, device_id, status, drop_reason, test,
         created_at, finished_at)
    SELECT g.id, g.project_id, g.connector_id, g.event_id, coalesce(e.event_type, ''),
           coalesce(e.device_id, ''), 'DROPPED', 'CONNECTOR_DISABLED', false, g.created_at, $4
    FROM dropped g LEFT JOIN events e ON e.project_id = g.project_id AND e.id = g.event_id
    RETURNING 1
)
SELECT project_id, id, (SELECT count(*) FROM logged) AS dropped FROM disabled;

-- name: add_push_stats
INSERT INTO push_stats (project_id, connector_id, minute, bucket, successes, errors)
SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::smallint[], $5::int[],
                     $6::int[])
ON CONFLICT (project_id, connector_id, minute, bucket) DO UPDATE
SET successes = push_stats.successes + excluded.successes,
    errors = push_stats.errors + excluded.errors;

-- name: push_stats_since
SELECT bucket, sum(successes)::bigint AS successes, sum(errors)::bigint AS errors
FROM push_stats
WHERE project_id = $1 AND connector_id = $2 AND minute >= $3
GROUP BY bucket;

-- name: expire_deliveries
-- Deliveries past their age go to the log as dropped (EXPIRED).
WITH gone AS (
    DELETE FROM deliveries
    WHERE id IN (SELECT id FROM deliveries WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
    RETURNING id, project_id, connector_id, event_id, created_at
)
INSERT INTO finished_deliveries
    (id, project_id, connector_id, event_id, event_type, device_id, status, drop_reason, test,
     created_at, finished_at)
SELECT g.id, g.project_id, g.connector_id, g.event_id, coalesce(e.event_type, ''),
       coalesce(e.device_id, ''), 'DROPPED', 'EXPIRED', false, g.created_at, $1
FROM gone g LEFT JOIN events e ON e.project_id = g.project_id AND e.id = g.event_id;

-- name: queue_depth
SELECT count(*) AS pending, min(due_at) AS oldest_due FROM deliveries;

-- name: delete_old_events
-- Old events go, except each device's latest of each type, which :sync still pushes.
DELETE FROM events
WHERE ctid IN (
    SELECT e.ctid FROM events e
    WHERE e.created_at < $1
      AND NOT EXISTS (
          SELECT 1 FROM reported r WHERE r.project_id = e.project_id AND r.event_id = e.id)
    LIMIT $2
);

-- name: delete_old_push_stats
DELETE FROM push_stats WHERE ctid IN (SELECT ctid FROM push_stats WHERE minute < $1 LIMIT $2);
