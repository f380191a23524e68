-- The gateway's schema. Every row that belongs to a project carries project_id, so the schema can
-- be distributed by project (e.g. Citus) without redesign. Times come from the application's clock.

CREATE TABLE projects (
    id           text PRIMARY KEY,
    display_name text NOT NULL,
    created_at   timestamptz NOT NULL
);

-- Secrets are 86 characters, longer than SHA-256's 64-byte block, so HMAC keys them by their
-- SHA-256 digest: storing only the digest still verifies the SDK's HS256 assertions.
CREATE TABLE service_accounts (
    key_id        text PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    secret_sha256 bytea NOT NULL,
    created_at    timestamptz NOT NULL
);

CREATE TABLE members (
    project_id text NOT NULL REFERENCES projects ON DELETE CASCADE,
    key_id     text NOT NULL REFERENCES service_accounts ON DELETE CASCADE,
    role       text NOT NULL,
    PRIMARY KEY (project_id, key_id)
);
CREATE INDEX members_key_id ON members (key_id);

CREATE TABLE access_tokens (
    token_sha256 bytea PRIMARY KEY,
    key_id       text NOT NULL REFERENCES service_accounts ON DELETE CASCADE,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);

CREATE TABLE connectors (
    project_id       text NOT NULL REFERENCES projects ON DELETE CASCADE,
    id               text NOT NULL,
    display_name     text NOT NULL,
    status           text NOT NULL,
    events           text[] NOT NULL,
    labels           text[] NOT NULL,
    url              text NOT NULL,
    signature_secret text NOT NULL,
    headers          jsonb NOT NULL,
    created_at       timestamptz NOT NULL,
    -- Start of the current run of failures without a success; NULL while healthy.
    failing_since    timestamptz,
    -- Failed rounds since the last success: sets how long the connector's queue waits.
    failure_streak   integer NOT NULL DEFAULT 0,
    last_success_at  timestamptz,
    PRIMARY KEY (project_id, id)
);

CREATE TABLE devices (
    project_id     text NOT NULL REFERENCES projects ON DELETE CASCADE,
    id             text NOT NULL,
    type           text NOT NULL,
    product_number text NOT NULL,
    labels         jsonb NOT NULL,
    created_at     timestamptz NOT NULL,
    PRIMARY KEY (project_id, id)
);

-- `body` is the serialised event object exactly as pushed ({"eventId", ..., "timestamp"});
-- `labels` is the device's labels when the event was stored.
CREATE TABLE events (
    project_id     text NOT NULL,
    id             text NOT NULL,
    device_id      text NOT NULL,
    event_type     text NOT NULL,
    timestamp      timestamptz NOT NULL,
    body           bytea NOT NULL,
    labels         jsonb NOT NULL,
    device_type    text NOT NULL,
    product_number text NOT NULL,
    created_at     timestamptz NOT NULL,
    PRIMARY KEY (project_id, id)
);
CREATE INDEX events_history ON events (project_id, device_id, timestamp);
CREATE INDEX events_created_at ON events (created_at);

-- The latest event of each type of each device: a device's `reported` map, and what :sync pushes.
CREATE TABLE reported (
    project_id text NOT NULL,
    device_id  text NOT NULL,
    event_type text NOT NULL,
    event_id   text NOT NULL,
    timestamp  timestamptz NOT NULL,
    PRIMARY KEY (project_id, device_id, event_type)
);
CREATE INDEX reported_event ON reported (project_id, event_id);

-- One row per (event, connector) still to push. `due_at` doubles as the lease: a claim moves it
-- past the lease, so a delivery whose process died becomes due again by itself.
CREATE TABLE deliveries (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id   text NOT NULL,
    connector_id text NOT NULL,
    event_id     text NOT NULL,
    due_at       timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    attempts     integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (due_at);
CREATE INDEX deliveries_connector ON deliveries (project_id, connector_id, due_at);
CREATE INDEX deliveries_expires_at ON deliveries (expires_at);

-- Push outcomes per connector per minute and latency bucket: :metrics sums the last 3 hours.
CREATE TABLE push_stats (
    project_id   text NOT NULL,
    connector_id text NOT NULL,
    minute       timestamptz NOT NULL,
    bucket       smallint NOT NULL,
    successes    integer NOT NULL,
    errors       integer NOT NULL,
    PRIMARY KEY (project_id, connector_id, minute, bucket)
);
CREATE INDEX push_stats_minute ON push_stats (minute);
