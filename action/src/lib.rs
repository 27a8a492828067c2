//! Ferry: release orchestration for a monorepo of ECS Fargate services.
//!
//! The pipeline flows one way through typed values: event → change set →
//! affected services → build plan → task definitions → deploy plan → outcome
//! → report. [`release`] plans a release once ([`release::ReleasePlan`]) and
//! runs that plan with effects on or off; each command runs its part of it.
//!
//! Three layers, and imports only go down (`scripts/code-figures --check`
//! holds the list and checks it: no circle, no import upwards):
//! - **Stages**, one per command a user types ([`detect`], [`build`],
//!   [`deploy`], [`diff`], [`gate`], [`metrics`], [`plan_comment`],
//!   [`preflight`]), with [`release`] on top: decisions are pure functions
//!   over plain data. A stage does not import another stage; the two
//!   exceptions are [`render`], the Jsonnet evaluator that turns the manifest
//!   and an image into the task definitions [`deploy`] and [`diff`] work on,
//!   and [`preflight`], the reference check [`deploy`] runs before it changes
//!   anything.
//! - **Adapters**, each the only place that talks to its system: [`git`],
//!   [`aws`], [`github`], [`prometheus`], [`http`] (the one hyper HTTPS
//!   client set-up), [`registry`] (any OCI registry's own API), [`gha`] (the runner: context,
//!   stdout, outputs, summary, masking), [`telemetry`]; docker and buildah run
//!   through [`build::builder`].
//! - **Shared model**, at the bottom, which every layer uses and which uses no
//!   adapter: [`project`] (the root, the manifest and the environment, made
//!   once by the binary; every stage takes it), [`manifest`], [`taskdef`], [`image`], [`inputs`] (the one
//!   grammar of what users type), [`diagnostic`], [`markdown`], [`text`] (the
//!   one quoting of outside values in messages, and the one neutraliser of
//!   invisible and confusable text), [`budget`] (the run's
//!   tunable limits), [`time`], [`crates`] (the Cargo workspace graph),
//!   [`outside`] (the one formatter of outside systems' errors), [`trust`]
//!   (whose records read back from GitHub are believed), [`cancel`]
//!   (the run's cancellation request).

pub mod aws;
pub mod budget;
pub mod build;
pub mod cancel;
pub mod crates;
pub mod deploy;
pub mod detect;
pub mod diagnostic;
pub mod diff;
pub mod gate;
pub mod gha;
pub mod git;
pub mod github;
pub mod http;
pub mod image;
pub mod inputs;
pub mod manifest;
pub mod markdown;
pub mod metrics;
pub mod outside;
pub mod plan_comment;
pub mod preflight;
pub mod project;
pub mod prometheus;
pub mod registry;
pub mod release;
pub mod render;
pub mod taskdef;
pub mod telemetry;
pub mod text;
pub mod time;
pub mod trust;
