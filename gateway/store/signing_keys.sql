-- name: insert_first_signing_key
-- Does nothing when a current key exists already (another replica made it a moment ago).
INSERT INTO signing_keys (kid, sealed_private_key, public_jwk, created_at)
SELECT $1, $2, $3, $4
WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE retired_at IS NULL)
ON CONFLICT DO NOTHING;

-- name: current_signing_key
SELECT kid, sealed_private_key FROM signing_keys WHERE retired_at IS NULL;

-- name: lock_signing_keys
-- Rotations one at a time: a second one waits and then retires the first one's key.
SELECT pg_advisory_xact_lock(7164037193040656745);

-- name: retire_signing_keys
UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL;

-- name: insert_signing_key
INSERT INTO signing_keys (kid, sealed_private_key, public_jwk, created_at) VALUES ($1, $2, $3, $4);

-- name: published_signing_keys
-- The current key and every retired key whose last tokens may not have expired yet.
SELECT public_jwk FROM signing_keys
WHERE retired_at IS NULL OR retired_at > $1
ORDER BY retired_at IS NOT NULL, created_at DESC;

-- name: all_sealed_signing_keys
SELECT kid, sealed_private_key FROM signing_keys ORDER BY kid;

-- name: reseal_signing_key
UPDATE signing_keys SET sealed_private_key = $2 WHERE kid = $1;
