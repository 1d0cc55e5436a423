-- MLflow accepts NaN metric values. SQLite stores a NaN REAL as NULL, so the value columns may
-- now be NULL, which the store reads back as NaN. SQLite cannot drop NOT NULL in place: rebuild.
CREATE TABLE run_metrics_nan (
    run_id    TEXT NOT NULL REFERENCES runs (run_id),
    key       TEXT NOT NULL,
    seq       BIGINT NOT NULL,
    value     DOUBLE PRECISION,
    timestamp BIGINT NOT NULL,
    step      BIGINT NOT NULL,
    PRIMARY KEY (run_id, key, seq)
);
INSERT INTO run_metrics_nan (run_id, key, seq, value, timestamp, step)
    SELECT run_id, key, seq, value, timestamp, step FROM run_metrics;
DROP TABLE run_metrics;
ALTER TABLE run_metrics_nan RENAME TO run_metrics;

CREATE TABLE run_latest_metrics_nan (
    run_id    TEXT NOT NULL REFERENCES runs (run_id),
    key       TEXT NOT NULL,
    value     DOUBLE PRECISION,
    timestamp BIGINT NOT NULL,
    step      BIGINT NOT NULL,
    PRIMARY KEY (run_id, key)
);
INSERT INTO run_latest_metrics_nan (run_id, key, value, timestamp, step)
    SELECT run_id, key, value, timestamp, step FROM run_latest_metrics;
DROP TABLE run_latest_metrics;
ALTER TABLE run_latest_metrics_nan RENAME TO run_latest_metrics;
