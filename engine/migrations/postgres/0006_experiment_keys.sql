-- The param and metric keys each experiment has seen, kept as runs log them, so a runs table's
-- column chooser never scans every run of a large experiment.
CREATE TABLE experiment_keys (
    experiment_id BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    key           TEXT NOT NULL,
    PRIMARY KEY (experiment_id, kind, key)
);
INSERT INTO experiment_keys (experiment_id, kind, key)
    SELECT DISTINCT r.experiment_id, 'param', p.key FROM run_params p JOIN runs r ON r.run_id = p.run_id;
INSERT INTO experiment_keys (experiment_id, kind, key)
    SELECT DISTINCT r.experiment_id, 'metric', m.key FROM run_latest_metrics m JOIN runs r ON r.run_id = m.run_id;
