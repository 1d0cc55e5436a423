-- MLflow 3's logged models: a model logged from a run (or on its own) with its own artifacts,
-- params, tags and metrics, which registered versions may point at (models:/<model_id>).
CREATE TABLE logged_models (
    model_id        TEXT PRIMARY KEY,
    experiment_id   BIGINT NOT NULL REFERENCES experiments (experiment_id),
    name            TEXT NOT NULL,
    model_type      TEXT NOT NULL,
    source_run_id   TEXT NOT NULL,
    status          TEXT NOT NULL,
    status_message  TEXT NOT NULL,
    artifact_uri    TEXT NOT NULL,
    creation_ms     BIGINT NOT NULL,
    updated_ms      BIGINT NOT NULL,
    lifecycle_stage TEXT NOT NULL
);
CREATE INDEX logged_models_by_experiment ON logged_models (experiment_id, creation_ms);

CREATE TABLE logged_model_tags (
    model_id TEXT NOT NULL REFERENCES logged_models (model_id),
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);

CREATE TABLE logged_model_params (
    model_id TEXT NOT NULL REFERENCES logged_models (model_id),
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);

-- Every point logged against a model (from a run's log-metric or log-batch with a model_id);
-- the value is NULL for NaN on SQLite, as in run_metrics.
CREATE TABLE logged_model_metrics (
    model_id       TEXT NOT NULL REFERENCES logged_models (model_id),
    key            TEXT NOT NULL,
    value          DOUBLE PRECISION,
    timestamp      BIGINT NOT NULL,
    step           BIGINT NOT NULL,
    run_id         TEXT NOT NULL,
    dataset_name   TEXT NOT NULL,
    dataset_digest TEXT NOT NULL
);
CREATE INDEX logged_model_metrics_by_model ON logged_model_metrics (model_id, key);

-- The models a run produced (its outputs), at the step they were logged.
CREATE TABLE run_model_outputs (
    run_id   TEXT NOT NULL REFERENCES runs (run_id),
    model_id TEXT NOT NULL REFERENCES logged_models (model_id),
    step     BIGINT NOT NULL,
    PRIMARY KEY (run_id, model_id)
);

-- A registered version of a logged model records which one (its source is models:/<model_id>).
ALTER TABLE model_versions ADD COLUMN model_id TEXT NOT NULL DEFAULT '';
