-- Aliases (named pointers to versions) and deployments (what the version-less routes serve),
-- with a notification on every change so that every replica follows at once.

CREATE TABLE aliases (
    model_id   BIGINT NOT NULL REFERENCES models (id),
    alias      TEXT NOT NULL CHECK (alias ~ '^[a-z][a-z0-9_-]{0,62}$'),
    version    INTEGER NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by TEXT NOT NULL,
    PRIMARY KEY (model_id, alias),
    -- A version that an alias points at cannot be deleted.
    FOREIGN KEY (model_id, version) REFERENCES versions (model_id, version)
);

CREATE TABLE deployments (
    model_id       BIGINT PRIMARY KEY REFERENCES models (id),
    version        INTEGER NOT NULL,
    canary_version INTEGER,
    canary_percent SMALLINT,
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by     TEXT NOT NULL,
    FOREIGN KEY (model_id, version) REFERENCES versions (model_id, version),
    FOREIGN KEY (model_id, canary_version) REFERENCES versions (model_id, version),
    CHECK ((canary_version IS NULL AND canary_percent IS NULL)
        OR (canary_version IS NOT NULL AND canary_percent BETWEEN 1 AND 99 AND canary_version <> version))
);

CREATE FUNCTION notify_serving_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('depot_serving', (SELECT name FROM models WHERE id = COALESCE(NEW.model_id, OLD.model_id)));
    RETURN NULL;
END;
$$;
CREATE TRIGGER aliases_notify AFTER INSERT OR UPDATE OR DELETE ON aliases
    FOR EACH ROW EXECUTE FUNCTION notify_serving_change();
CREATE TRIGGER deployments_notify AFTER INSERT OR UPDATE OR DELETE ON deployments
    FOR EACH ROW EXECUTE FUNCTION notify_serving_change();
