-- Every move of a model alias (promotion, rollback, removal): who, when, from which version to which.
-- Kept when the model is deleted, as an audit trail.
CREATE TABLE alias_history (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL,
    alias            TEXT NOT NULL,
    version          BIGINT,
    previous_version BIGINT,
    changed_by       TEXT NOT NULL,
    changed_at       BIGINT NOT NULL
);
CREATE INDEX alias_history_by_model ON alias_history (name, id);
