-- Run searches filter on one param's values (`params.lr = '0.01'`): with this index the runs a
-- clause matches are read from a range of it instead of a scan of every run's params. Metrics
-- have no such index: a log_batch of 100 new keys would touch 100 scattered pages of it, which
-- doubled the batch's server time (1.9 -> 3.8 ms, tracking bench), and logging is the hot path.
CREATE INDEX run_params_by_key_value ON run_params (key, value, run_id);

-- A metric's value as its IEEE-754 bits, written beside it: reading a page of runs folds their
-- metrics into text (registry's sqlite_fold), and SQLite's exact printing of a REAL was most of
-- a search's time, where an integer prints at once and reads back exactly. NULL in rows written
-- before this column, which are read from `value` as before.
ALTER TABLE run_latest_metrics ADD COLUMN value_bits INTEGER;
