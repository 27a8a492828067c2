//! `ferry schema`: the manifest's JSON Schema, for editors in any repository
//! (the schema file of Ferry's own repository is not in a user's).

use std::path::PathBuf;

use clap::Args;
use ferry::gha::Reporter;

use crate::failure::{Failure, Outcome};

/// The arguments of `ferry schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Write it to this file (e.g. .github/ferry.schema.json) instead of
    /// standard output.
    #[arg(long)]
    output: Option<PathBuf>,
}

/// Prints or writes the schema.
pub fn run(args: SchemaArgs, reporter: &mut Reporter) -> Outcome {
    let text = serde_json::to_string_pretty(&ferry::manifest::json_schema())
        .map_err(|e| Failure::message(format!("cannot write the schema: {e}")))?
        + "\n";
    match args.output {
        None => reporter
            .print(&text)
            .map_err(|e| Failure::message(format!("cannot write the schema: {e}"))),
        Some(path) => std::fs::write(&path, text).map_err(|e| {
            Failure::message(format!(
                "cannot write {}: {e}\n  help: pass --output a file in a folder that exists",
                path.display()
            ))
        }),
    }
}
