//! `ferry gate`: its arguments and their conversion to the library's options.

use std::path::PathBuf;

use clap::Args;
use ferry::gate;
use ferry::gha::{Context, Reporter};
use ferry::inputs::{self, services};

use crate::failure::{Failure, Outcome};

/// The arguments of `ferry gate`.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// The environment promoted to (it names the source in `promote-from`).
    #[arg(long, env = "INPUT_ENVIRONMENT")]
    env: String,
    /// Images to promote: `service=uri` (repeatable, or comma-separated), or
    /// a JSON map service → uri (`ferry build`'s `images` output); a service
    /// named twice must be given the same image.
    #[arg(long, env = "INPUT_IMAGES")]
    images: Vec<String>,
    /// Without --images: the services whose deployment of --sha to the
    /// source environment is promoted (comma-, space- or newline-separated,
    /// a JSON list, detect's `matrix`, or all).
    #[arg(long, env = "INPUT_SERVICES")]
    services: Option<String>,
    /// The commit promoted (default: GITHUB_SHA).
    #[arg(long, env = "INPUT_SHA")]
    sha: Option<String>,
    /// The repository root (default: $GITHUB_WORKSPACE, else the current folder).
    #[arg(long)]
    repo: Option<PathBuf>,
}

impl GateArgs {
    /// The library's options; bad input is refused here.
    pub fn options(&self) -> Result<gate::Options, Failure> {
        Ok(gate::Options {
            images: inputs::images::parse_all(&self.images).map_err(Failure::message)?,
            services: services::given(self.services.as_deref()).map_err(Failure::message)?,
            sha: inputs::present(self.sha.clone()),
            now: None,
        })
    }
}

/// Runs `ferry gate`: a refused promotion fails the step, and a gate that
/// could not decide says `allowed=false` before failing.
pub async fn run(
    args: GateArgs,
    manifest: PathBuf,
    ctx: &Context,
    reporter: &mut Reporter,
) -> Outcome {
    let decided = match args.options() {
        Ok(opts) => match crate::project::load(args.repo, &manifest, ctx)
            .and_then(|p| p.with_env(Some(&args.env)))
        {
            Ok(project) => gate::run(ctx, &project, &opts, reporter)
                .await
                .map_err(Failure::from),
            Err(e) => Err(Failure::from(e)),
        },
        Err(refused) => Err(refused),
    };
    match decided {
        Ok(outcome) => outcome
            .refusal_message()
            .map_or(Ok(()), |m| Err(Failure::message(m))),
        Err(failure) => {
            let _ = reporter.output("allowed", "false");
            Err(failure)
        }
    }
}
