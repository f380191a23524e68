-- Connectors that publish to a broker: `type` says which (HTTP_PUSH for every existing one), `url`
-- holds the broker's URL, `config` the rest of that type's settings (exchange, routing key, topic,
-- subject, stream, ...). HTTP_PUSH keeps `config` empty.
ALTER TABLE connectors
    ADD COLUMN type text NOT NULL DEFAULT 'HTTP_PUSH',
    ADD COLUMN config jsonb NOT NULL DEFAULT '{}';
