//! Ferry: release orchestration for a monorepo of ECS Fargate services.
//!
//! The pipeline flows one way through typed values: event → change set →
//! affected services → build plan → task definitions → deploy plan → outcome
//! → report. Each stage is a module named after the command a user types;
//! its decisions are pure functions, and the effects (git, AWS, GitHub, files)
//! live in thin adapters at the edge.

pub mod aws;
pub mod build;
pub mod crates;
pub mod deploy;
pub mod detect;
pub mod diagnostic;
pub mod diff;
pub mod gate;
pub mod gha;
pub mod git;
pub mod github;
pub mod image;
pub mod inputs;
pub mod manifest;
pub mod markdown;
pub mod metrics;
pub mod plan_comment;
pub mod prometheus;
pub mod release;
pub mod render;
pub mod taskdef;
pub mod telemetry;
pub mod time;
