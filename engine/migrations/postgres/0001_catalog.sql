-- The market-data catalog index. Parquet files hold the bars; these rows say what is there.
CREATE TABLE instruments (
    symbol        TEXT PRIMARY KEY,
    asset_class   TEXT NOT NULL,
    currency      TEXT NOT NULL,
    spec_json     TEXT NOT NULL,
    created_at_ns BIGINT NOT NULL
);

CREATE TABLE datasets (
    symbol             TEXT NOT NULL,
    timeframe          TEXT NOT NULL,
    fields             TEXT NOT NULL,
    row_count          BIGINT NOT NULL,
    first_ts_ns        BIGINT NOT NULL,
    last_ts_ns         BIGINT NOT NULL,
    content_sha256     TEXT NOT NULL,
    path               TEXT NOT NULL,
    calendar           TEXT NOT NULL,
    quality_confidence DOUBLE PRECISION,
    quality_json       TEXT,
    updated_at_ns      BIGINT NOT NULL,
    PRIMARY KEY (symbol, timeframe)
);

CREATE TABLE imports (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_path   TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    symbol        TEXT NOT NULL,
    timeframe     TEXT NOT NULL,
    rows_read     BIGINT NOT NULL,
    rows_added    BIGINT NOT NULL,
    imported_at_ns BIGINT NOT NULL
);
CREATE INDEX imports_by_symbol ON imports (symbol, timeframe);
