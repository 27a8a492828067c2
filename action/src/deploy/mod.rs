//! `ferry deploy`: register task definitions, roll them out on the ECS
//! services of one environment, wait on this deployment, diagnose and roll
//! back a failure, and record the result in GitHub.
//!
//! The ECS half: [`apply::roll_out`] over [`register`] (skip-identical
//! registration under a [`budget`]), [`wait`] (polling all services
//! together) driving the pure [`rollout`] state machine, and [`diagnose`]
//! (stopped tasks, events, logs). Every AWS call goes through
//! [`crate::aws`].

pub mod analysis;
pub mod apply;
pub mod budget;
pub mod comment;
pub mod diagnose;
pub mod model;
pub mod post;
pub mod progressive;
pub mod register;
pub mod rollout;
mod run;
pub mod wait;
pub mod waves;

pub use crate::github::deployments::{DeploymentPayload, deployment_task};
pub use apply::{
    PlanInput, RolloutOptions, RolloutReport, ServicePlan, plans, roll_out, roll_out_report,
    untouched,
};
pub use model::{
    ContainerExit, DeployReport, Diagnosis, LogLine, Rollback, ServiceEvent, ServiceOutcome,
    Status, StoppedTask,
};
pub use run::{
    DeployPlan, Options, RunError, commit_sha, dry_report, execute, github_state, overall, plan,
    preflight, preflight_targets, prepare, preview, render_services, run, selected,
};

#[cfg(test)]
mod tests;
