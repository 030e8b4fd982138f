//! Adapt: the part of Bearing that uses what was measured to change how
//! delivery runs, then checks whether the change worked.
//!
//! - [`anomaly`]: robust, weekly-seasonal baselines for daily metric series.
//! - [`risk`]: a change-risk model trained on the organisation's own history.
//! - [`gitmetrics`]: Kamei et al. change metrics from a git repository.
//! - [`jit`]: the calibrated learners and measures behind it; [`jitdata`]
//!   reads public JIT defect data (ApacheJIT) for the bench.
//! - [`canary`]: Mann-Whitney canary judge (promote / hold / rollback).
//! - [`recommend`]: candidate actions for key results off target, with evidence.
//! - [`reconcile`]: evaluates adaptation rules, updates delivery plans and
//!   records actions, then measures their effect.

pub mod anomaly;
pub mod canary;
pub mod gitmetrics;
pub mod jit;
pub mod jitdata;
pub mod pipeline;
pub mod recommend;
pub mod reconcile;
pub mod rightsize;
pub mod risk;
pub mod scale;
pub mod stats;
