//! `ferry deploy`: register task definitions, roll them out on the ECS
//! services of one environment, wait on this deployment, diagnose and roll
//! back a failure, and record the result in GitHub.

pub mod comment;
pub mod model;
pub mod post;

pub use model::{
    ContainerExit, DeployReport, DeploymentPayload, Diagnosis, LogLine, Rollback, ServiceEvent,
    ServiceOutcome, Status, StoppedTask, deployment_task,
};
