-- name: sealed_key_ids
-- The keys the stored secrets need (byte 2 to 9 of a sealed value is its key id).
SELECT DISTINCT substring(sealed FROM 2 FOR 8) AS key_id
FROM (SELECT sealed_secrets AS sealed FROM connectors WHERE sealed_secrets IS NOT NULL
      UNION ALL
      SELECT sealed_private_key FROM signing_keys) AS stored;

-- name: plain_connector_secrets
-- Connectors that may hold a secret in clear (written before it was sealed): a signature
-- secret, a config key of $1 (NATS credentials), a URL with a user part that is not masked
-- (a sealed password or token leaves `user:********@` or `********@` in the URL), or a custom
-- header value that is neither empty nor the mask sealing leaves.
SELECT * FROM connectors
WHERE (signature_secret <> '' AND sealed_secrets IS NULL)
   OR config ?| $1::text[]
   OR (url LIKE '%@%' AND url NOT LIKE '%********@%')
   OR EXISTS (SELECT FROM jsonb_each_text(headers) AS h (name, value)
              WHERE value NOT IN ('', '********'))
FOR UPDATE;

-- name: seal_plain_connector_secrets
UPDATE connectors
SET signature_secret = '', url = $3, headers = $4, config = $5, sealed_secrets = $6
WHERE project_id = $1 AND id = $2;

-- name: sealed_connector_secrets
SELECT project_id, id, sealed_secrets FROM connectors WHERE sealed_secrets IS NOT NULL
FOR UPDATE;

-- name: set_connector_secrets
UPDATE connectors SET signature_secret = '', sealed_secrets = $3
WHERE project_id = $1 AND id = $2;
