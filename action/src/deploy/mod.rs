//! `ferry deploy`: register task definitions, roll them out on the ECS
//! services of one environment, wait on this deployment, diagnose and roll
//! back a failure, and record the result in GitHub.
//!
//! Cut by phase. [`plan`] is pure: which services, each rendered, where it
//! goes, how it rolls out and what is analysed. [`execute`] carries a plan
//! out: [`register`] → [`records`] (GitHub) → [`apply::roll_out`] → close
//! ([`records`], [`report`]). The roll-out starts each service
//! ([`start`]), follows the progressive ones ([`follow`], over the pure
//! [`progressive`] step machine and the [`metrics`]) and waits on the
//! rolling ones ([`wait`], over the pure [`rollout`] tracker), then
//! [`settle`]s, [`diagnose`]s and rolls back ([`rollback`]). Every ECS call
//! goes through the [`crate::aws::ecs::Ecs`] port; no file here names the SDK.

pub mod analysis;
pub mod apply;
pub mod budget;
pub mod comment;
pub mod diagnose;
mod execute;
pub mod follow;
mod follow_analysis;
pub mod metrics;
pub mod model;
pub mod options;
pub mod plan;
pub mod post;
pub mod progressive;
pub mod records;
pub mod register;
pub mod report;
pub mod rollback;
pub mod rollout;
pub mod settle;
pub mod start;
pub mod tasks;
mod trim;
pub mod wait;
pub mod waves;

pub use crate::github::deployments::{DeploymentPayload, deployment_task};
pub use apply::{RolloutReport, roll_out};
pub use execute::{execute, preflight, run};
pub use model::{
    ContainerExit, DeployReport, Diagnosis, LogLine, Rollback, ServiceEvent, ServiceOutcome,
    Status, StoppedTask,
};
pub use options::{Options, RolloutOptions, RunError};
pub use plan::{
    DeployPlan, PlanInput, ServicePlan, commit_sha, plan, plans, preflight_targets, prepare,
    render_services, selected, untouched,
};
pub use records::github_state;
pub use report::{dry_report, overall, preview};

#[cfg(test)]
mod memory;
#[cfg(test)]
mod port_tests;
#[cfg(test)]
mod tests;
