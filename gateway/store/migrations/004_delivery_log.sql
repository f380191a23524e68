-- The delivery log: every push attempt, and every delivery that left the queue (delivered, or
-- dropped with its reason), kept for GATEWAY_ATTEMPT_RETENTION. Both tables are append-only and
-- written in batches (COPY, or one INSERT … SELECT per batch of outcomes). Their time columns
-- carry BRIN indexes: a few pages per table instead of a btree maintained on every insert, and
-- enough for retention to delete old rows in bounded batches.

CREATE TABLE attempts (
    time         timestamptz NOT NULL,
    project_id   text NOT NULL,
    connector_id text NOT NULL,
    delivery_id  bigint NOT NULL,
    event_id     text NOT NULL,
    event_type   text NOT NULL,
    device_id    text NOT NULL,
    attempt      integer NOT NULL,
    -- NULL when no HTTP answer came; then error_class says why (timeout, tls, dns, ...).
    status_code  integer,
    error_class  text NOT NULL,
    message      text NOT NULL,
    latency      double precision NOT NULL,
    -- The first 1 KiB of a text or JSON answer; never request headers or secrets.
    response     text NOT NULL,
    test         boolean NOT NULL
);
CREATE INDEX attempts_delivery ON attempts (delivery_id);
CREATE INDEX attempts_time ON attempts USING brin (time);

-- A delivery that left the queue keeps its id: the log lists queued and finished ones alike.
CREATE TABLE finished_deliveries (
    id           bigint NOT NULL,
    project_id   text NOT NULL,
    connector_id text NOT NULL,
    event_id     text NOT NULL,
    event_type   text NOT NULL,
    device_id    text NOT NULL,
    status       text NOT NULL,  -- DELIVERED | DROPPED
    drop_reason  text NOT NULL,  -- EXPIRED | CONNECTOR_DISABLED | CONNECTOR_DELETED | FILTER_CHANGED | ''
    test         boolean NOT NULL,
    created_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL
);
CREATE INDEX finished_deliveries_connector ON finished_deliveries (project_id, connector_id, id);
CREATE INDEX finished_deliveries_event ON finished_deliveries (project_id, connector_id, event_id);
CREATE INDEX finished_deliveries_finished_at ON finished_deliveries USING brin (finished_at);
-- :test pushes of a connector in the current minute, counted in its row so that every replica
-- shares one allowance.
ALTER TABLE connectors
    ADD COLUMN test_window_start timestamptz,
    ADD COLUMN tests_in_window integer NOT NULL DEFAULT 0;
