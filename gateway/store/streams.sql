-- Event streams: the events a notification on 'gateway_events' announced.

-- name: announced_events
-- In the order announced. The labels are the device's when the event was stored.
SELECT e.project_id, e.device_id, e.event_type, e.device_type, e.labels, e.body
FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS a (project_id, id, position)
JOIN events e ON e.project_id = a.project_id AND e.id = a.id
ORDER BY a.position;

-- name: keepalive
SELECT 1;
