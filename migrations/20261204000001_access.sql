-- Access control: API tokens (only a hash of the secret is stored), per-model protection of
-- aliases and the deployment, and pending changes that wait for a second principal's approval.

CREATE TABLE api_tokens (
    -- The public part of the token text (depot_<id>_<secret>).
    id           TEXT PRIMARY KEY CHECK (id ~ '^[0-9a-f]{12}$'),
    -- SHA-256 of the secret; the secret itself is never stored.
    secret_hash  BYTEA NOT NULL CHECK (length(secret_hash) = 32),
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    principal    TEXT NOT NULL,
    -- [{"role": "deployer", "models": "fraud-*"}, ...]; fixed when the token is created.
    grants       JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_by   TEXT NOT NULL,
    expires_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    revoked_by   TEXT
);
-- A principal's live tokens have distinct names.
CREATE UNIQUE INDEX api_tokens_name_idx ON api_tokens (principal, name) WHERE revoked_at IS NULL;

-- Every replica drops its cached copy of a token the moment it changes (revocation).
CREATE FUNCTION notify_token_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('depot_tokens', NEW.id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER api_tokens_notify AFTER UPDATE ON api_tokens
    FOR EACH ROW WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.expires_at IS DISTINCT FROM NEW.expires_at)
    EXECUTE FUNCTION notify_token_change();

-- Which of a model's serving pointers need the deployer role (aliases) and, when
-- require_approval, a second principal's approval before they change.
ALTER TABLE models
    ADD COLUMN protected_aliases    TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN deployment_protected BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN require_approval     BOOLEAN NOT NULL DEFAULT false;

CREATE TABLE pending_changes (
    id            BIGSERIAL PRIMARY KEY,
    model_id      BIGINT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    -- deploy, undeploy, canary, promote_canary, set_alias, delete_alias
    kind          TEXT NOT NULL,
    version       INTEGER,
    alias         TEXT,
    percent       SMALLINT,
    reason        TEXT,
    proposed_by   TEXT NOT NULL,
    proposed_token TEXT,
    proposed_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at    TIMESTAMPTZ NOT NULL,
    -- pending, approved, rejected, expired
    state         TEXT NOT NULL DEFAULT 'pending',
    decided_by    TEXT,
    decided_at    TIMESTAMPTZ,
    decision_reason TEXT
);
CREATE INDEX pending_changes_open_idx ON pending_changes (expires_at) WHERE state = 'pending';
CREATE INDEX pending_changes_model_idx ON pending_changes (model_id, id);

-- Which token made a change (the actor is the token's principal).
ALTER TABLE audit_log ADD COLUMN token TEXT;
-- Token changes belong to no model.
ALTER TABLE audit_log ALTER COLUMN model DROP NOT NULL;
