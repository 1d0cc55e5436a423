//! Hyperparameter sweeps: samplers, pruners and trial workers coordinated through the
//! database, and model selection. Built by a later issue; empty until then.
