-- Models, their versions, the artifacts they point to, and an append-only audit log.

CREATE TABLE models (
    id           BIGSERIAL PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,127}$'),
    description  TEXT NOT NULL DEFAULT '',
    tags         TEXT[] NOT NULL DEFAULT '{}',
    -- The number the next version of this model gets. Only ever incremented, so a deleted
    -- version's number is never handed out again.
    next_version INTEGER NOT NULL DEFAULT 1 CHECK (next_version >= 1),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_by   TEXT NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX models_tags_idx ON models USING GIN (tags);

-- One row per stored blob; versions reference it, so equal bytes are stored once.
CREATE TABLE artifacts (
    digest     TEXT PRIMARY KEY CHECK (digest ~ '^[0-9a-f]{64}$'),
    size_bytes BIGINT NOT NULL CHECK (size_bytes >= 0),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE versions (
    model_id          BIGINT NOT NULL REFERENCES models (id),
    version           INTEGER NOT NULL CHECK (version >= 1),
    digest            TEXT NOT NULL REFERENCES artifacts (digest),
    size_bytes        BIGINT NOT NULL,
    format            TEXT NOT NULL,
    servable          BOOLEAN NOT NULL,
    unservable_reason TEXT,
    signature         JSONB,
    onnx              JSONB,
    metadata          JSONB NOT NULL DEFAULT '{}',
    description       TEXT NOT NULL DEFAULT '',
    tags              TEXT[] NOT NULL DEFAULT '{}',
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_by        TEXT NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (model_id, version)
);
CREATE INDEX versions_digest_idx ON versions (digest);

-- Every change, in order. Rows are never updated or deleted (enforced below).
CREATE TABLE audit_log (
    id      BIGSERIAL PRIMARY KEY,
    at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    model   TEXT NOT NULL,
    version INTEGER,
    reason  TEXT,
    details JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_model_idx ON audit_log (model, id);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
