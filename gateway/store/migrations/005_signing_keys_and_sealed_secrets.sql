-- The gateway's EC P-256 keys for DT-Asymmetric-Signature, shared by every replica. The private
-- half is sealed (AES-GCM under GATEWAY_SECRET_KEY, see gateway/store/crypto.py).
CREATE TABLE signing_keys (
    kid                text PRIMARY KEY,
    sealed_private_key bytea NOT NULL,
    public_jwk         jsonb NOT NULL,
    created_at         timestamptz NOT NULL,
    -- NULL for the one key that signs now; a retired key stays published until its tokens expired.
    retired_at         timestamptz
);
-- At most one current key: of two replicas making the first key at once, one insert wins.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys ((true)) WHERE retired_at IS NULL;

-- A connector's secrets (signature secret, Standard Webhooks secrets), sealed as one value.
-- signature_secret stays for the rows written before this migration: the gateway seals those
-- at start (a SQL migration cannot encrypt) and empties the column; it is never read otherwise.
ALTER TABLE connectors ADD COLUMN sealed_secrets bytea;
