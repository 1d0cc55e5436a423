-- The model registry: registered models, their versions, tags and aliases.
CREATE TABLE registered_models (
    name                   TEXT PRIMARY KEY,
    creation_timestamp     BIGINT NOT NULL,
    last_updated_timestamp BIGINT NOT NULL,
    description            TEXT NOT NULL,
    user_id                TEXT NOT NULL
);

CREATE TABLE registered_model_tags (
    name  TEXT NOT NULL REFERENCES registered_models (name) ON UPDATE CASCADE ON DELETE CASCADE,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, key)
);

CREATE TABLE model_versions (
    name                   TEXT NOT NULL REFERENCES registered_models (name) ON UPDATE CASCADE ON DELETE CASCADE,
    version                BIGINT NOT NULL,
    creation_timestamp     BIGINT NOT NULL,
    last_updated_timestamp BIGINT NOT NULL,
    description            TEXT NOT NULL,
    user_id                TEXT NOT NULL,
    current_stage          TEXT NOT NULL,
    source                 TEXT NOT NULL,
    run_id                 TEXT NOT NULL,
    run_link               TEXT NOT NULL,
    status                 TEXT NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE model_version_tags (
    name    TEXT NOT NULL,
    version BIGINT NOT NULL,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (name, version, key),
    FOREIGN KEY (name, version) REFERENCES model_versions (name, version) ON UPDATE CASCADE ON DELETE CASCADE
);

CREATE TABLE registered_model_aliases (
    name    TEXT NOT NULL REFERENCES registered_models (name) ON UPDATE CASCADE ON DELETE CASCADE,
    alias   TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (name, alias)
);
