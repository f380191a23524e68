-- When a failing connector is tried next: events queued for it meanwhile wait until then, so a
-- dead endpoint is probed once per retry rather than once per new event.
ALTER TABLE connectors ADD COLUMN retry_at timestamptz;
