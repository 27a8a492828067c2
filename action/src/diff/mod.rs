//! `ferry diff`: what would change if the rendered task definition replaced
//! the one an ECS service runs, as the normalised changes of
//! [`crate::taskdef`].

mod run;

pub use crate::taskdef::{Change, diff};
pub use run::{DiffError, Options, described, run, running};
