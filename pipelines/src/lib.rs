//! Scheduled pipelines: cron schedules, DAGs of steps with retries and run history (ingest,
//! feature refresh, retraining, drift checks, reports). Built by a later issue; empty until then.
