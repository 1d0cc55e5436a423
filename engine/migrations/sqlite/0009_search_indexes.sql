-- Run searches filter on one key's values (`metrics.accuracy > 0.9`, `params.lr = '0.01'`):
-- with these, the runs a clause matches are read from a range of one index instead of a scan
-- of every run's metrics or params.
CREATE INDEX run_latest_metrics_by_key_value ON run_latest_metrics (key, value, run_id);
CREATE INDEX run_params_by_key_value ON run_params (key, value, run_id);

-- A metric's value as its IEEE-754 bits, written beside it: reading a page of runs folds their
-- metrics into text (registry's sqlite_fold), and SQLite's exact printing of a REAL was most of
-- a search's time, where an integer prints at once and reads back exactly. NULL in rows written
-- before this column, which are read from `value` as before.
ALTER TABLE run_latest_metrics ADD COLUMN value_bits INTEGER;
