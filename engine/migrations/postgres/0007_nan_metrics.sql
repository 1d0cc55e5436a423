-- Kept in step with SQLite, where a NaN metric is stored as NULL (PostgreSQL stores NaN itself,
-- so its values never are NULL; the store reads NULL as NaN on both).
ALTER TABLE run_metrics ALTER COLUMN value DROP NOT NULL;
ALTER TABLE run_latest_metrics ALTER COLUMN value DROP NOT NULL;
