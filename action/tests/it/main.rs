//! Ferry's integration tests, as ONE test binary: each file here was once a
//! test binary of its own, and each linked the AWS SDK and octocrab again.
//! Now every file is a module of this crate and shares `support/` (the repo
//! root, running the `ferry` binary, scripted git repositories, the test bed,
//! stand-ins for GitHub and ECS).
//!
//! Run one file's tests with a filter: `cargo test -p ferry --test it deploy_cli`
//! (a test's full name is `<file>::<test>`).
//!
//! The modules share one process: a test gives environment and a working
//! directory to the processes it starts (see [`support::ferry_command`]),
//! never to itself (`std::env::set_var`, `std::env::set_current_dir`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod action_archive;
mod action_yml;
mod budget_hostile;
mod build_cache;
mod build_e2e;
mod commands_doc;
mod container_action;
mod container_build;
mod container_fork;
mod deploy_cli;
mod deploy_comment;
mod deploy_progressive;
mod deploy_records;
mod deploy_register_update;
mod deploy_rollout;
mod deploy_schedule;
mod deploy_tasks;
mod deploy_waves;
mod detect_affected;
mod detect_file_lists;
mod detect_gaps;
mod detect_git_injection;
mod detect_languages;
mod detect_merge_group;
mod detect_release_base;
mod detect_scale;
mod diff_running_service;
mod dockerfiles;
mod docs_commands;
mod gate;
mod git_safe_directory;
mod log_secrets;
mod metrics_compute;
mod metrics_outputs;
mod metrics_render;
mod no_silent_miss;
mod plan_comment_budget;
mod plan_comment_cli;
mod plan_comment_compare;
mod plan_comment_conformance;
mod plan_comment_counts;
mod plan_comment_diff;
mod plan_comment_digest;
mod plan_comment_fail_closed;
mod plan_comment_fixtures;
mod plan_comment_hostile;
mod plan_comment_input;
mod plan_comment_upsert;
mod preflight;
mod preflight_service_connect;
mod release_action;
mod release_pins;
mod release_rehearsal;
mod render;
mod render_confined;
mod render_invalid;
mod render_manifest;
mod terraform_apply_flow;
mod terraform_drift;
mod trace_otlp;
mod trusted_records;
mod workflow_commands;
mod workflows;
