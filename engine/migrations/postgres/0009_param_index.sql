-- Run searches filter on one param's values (`params.lr = '0.01'`): with this index the runs a
-- clause matches are found from the key instead of a scan of every run's params. A param's
-- value (up to 6,000 characters) can be longer than a B-tree entry may be, so the index holds
-- the key alone. Metrics have no such index: a log_batch of new keys would touch as many
-- scattered pages of it, and logging is the hot path.
CREATE INDEX run_params_by_key ON run_params (key, run_id);
