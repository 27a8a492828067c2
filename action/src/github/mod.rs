//! GitHub REST adapters shared by the commands that talk to pull requests.

pub mod comments;
pub mod retry;

pub use comments::GithubError;
