-- Run searches filter on one key's values (`metrics.accuracy > 0.9`, `params.lr = '0.01'`):
-- with these, the runs a clause matches are read from a range of one index instead of a scan
-- of every run's metrics or params. A param's value (up to 6,000 characters) can be longer
-- than a B-tree entry may be here, so params are indexed by key alone.
CREATE INDEX run_latest_metrics_by_key_value ON run_latest_metrics (key, value, run_id);
CREATE INDEX run_params_by_key ON run_params (key, run_id);
