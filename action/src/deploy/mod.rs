//! `ferry deploy`: register task definitions, roll them out on the ECS
//! services of one environment, wait on this deployment, diagnose and roll
//! back a failure, and record the result in GitHub.
//!
//! Cut by phase, read top-down. [`run`] is the one entry: [`plan`] (pure:
//! which services, each rendered, where it goes, how it rolls out and what
//! is analysed), then a preview ([`report`]) or [`preflight`] and
//! [`execute`], the one orchestrator. It calls each phase once, in order:
//! `connect` → [`register`] → [`records`] (GitHub) → the roll-out wave by wave
//! (`wave_loop`) → `close`. Each wave's roll-out ([`apply::roll_out`]) is
//! itself a pipeline: [`start`] → [`follow`] (the progressive services,
//! over the pure [`progressive`] step machine and the [`metrics`]) →
//! [`settle`] → [`wait`] (the rolling ones, over the pure [`rollout`]
//! tracker) → [`settle`] ([`diagnose`]) → [`rollback`]. Phases only
//! descend: none calls back into the file that called it. Every ECS call
//! goes through the [`crate::aws::ecs::Ecs`] port; no file here names the SDK.
//! Scheduled jobs ([`schedule`]) move with their service, through the
//! [`crate::aws::events::Events`] port.

pub mod analysis;
pub mod apply;
pub mod budget;
mod close;
pub mod comment;
mod connect;
pub mod diagnose;
mod execute;
pub mod follow;
mod follow_analysis;
mod follower;
pub mod metrics;
pub mod model;
pub mod options;
pub mod plan;
pub mod post;
mod preflight;
pub mod progressive;
pub mod records;
pub mod register;
pub mod report;
pub mod rollback;
pub mod rollout;
mod run;
pub mod schedule;
pub mod settle;
pub mod start;
pub mod tasks;
mod trim;
pub mod wait;
mod wave_loop;
pub mod waves;

pub use crate::github::deployments::{DeploymentPayload, deployment_task};
pub use apply::{RolloutReport, roll_out};
pub use execute::execute;
pub use model::{
    ContainerExit, DeployReport, Diagnosis, LogLine, Rollback, ServiceEvent, ServiceOutcome,
    Status, StoppedTask,
};
pub use options::{Options, RolloutOptions, RunError};
pub use plan::{
    DeployPlan, PlanInput, ServicePlan, commit_sha, plan, plans, prepare, render_services,
    selected, untouched,
};
pub use preflight::{preflight, preflight_targets};
pub use records::github_state;
pub use report::{dry_report, overall, preview};
pub use run::run;

#[cfg(test)]
mod memory;
#[cfg(test)]
mod port_tests;
#[cfg(test)]
mod tests;
