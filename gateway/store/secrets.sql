-- name: sealed_key_ids
-- The keys the stored secrets need (byte 2 to 9 of a sealed value is its key id).
SELECT DISTINCT substring(sealed FROM 2 FOR 8) AS key_id
FROM (SELECT sealed_secrets AS sealed FROM connectors WHERE sealed_secrets IS NOT NULL
      UNION ALL
      SELECT sealed_private_key FROM signing_keys) AS stored;

-- name: plain_connector_secrets
-- Signature secrets stored in clear (written before secrets were sealed).
SELECT project_id, id, signature_secret FROM connectors
WHERE signature_secret <> '' AND sealed_secrets IS NULL
FOR UPDATE;

-- name: sealed_connector_secrets
SELECT project_id, id, sealed_secrets FROM connectors WHERE sealed_secrets IS NOT NULL
FOR UPDATE;

-- name: set_connector_secrets
UPDATE connectors SET signature_secret = '', sealed_secrets = $3
WHERE project_id = $1 AND id = $2;
