//! `ferry render` (and the render half of `ferry diff`): the arguments and
//! their conversion to the library's options.

use std::path::PathBuf;

use clap::Args;
use ferry::gha::{Context, Reporter};
use ferry::inputs::{self, boolean};
use ferry::render;

use crate::failure::Outcome;

/// The arguments of `ferry render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The service to render.
    #[arg(long, env = "INPUT_SERVICE")]
    service: Option<String>,
    /// The environment to render for.
    #[arg(long, env = "INPUT_ENVIRONMENT")]
    env: Option<String>,
    /// Every service × environment of the manifest.
    #[arg(long, env = "INPUT_ALL", value_parser = boolean)]
    all: bool,
    /// Render and validate every service × environment; write nothing.
    #[arg(long, env = "INPUT_CHECK", value_parser = boolean)]
    check: bool,
    /// The image URI (ext-str IMAGE).
    #[arg(long, env = "INPUT_IMAGE")]
    image: Option<String>,
    /// An ext-str NAME=VALUE (repeatable); FERRY_EXT_<NAME> variables work too.
    #[arg(long = "ext-str", value_parser = render::inputs::parse_ext_str)]
    ext_str: Vec<(String, String)>,
    /// Infrastructure values (`terraform output -json`); `{env}` is replaced.
    /// Default: task-definitions/environments/<env>.json when present.
    #[arg(long, env = "INPUT_VALUES")]
    values: Option<PathBuf>,
    /// Output file of a single render (default .ferry/render/<service>.<env>.json).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Output folder of --all.
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// The repository root (default: $GITHUB_WORKSPACE, else the current folder).
    #[arg(long)]
    pub repo: Option<PathBuf>,
}

impl RenderArgs {
    /// The library's options, with the process's `FERRY_EXT_*` variables.
    pub fn options(self) -> render::Options {
        render::Options {
            service: inputs::present(self.service),
            env: inputs::present(self.env),
            all: self.all,
            check: self.check,
            image: inputs::present(self.image),
            ext_strs: self.ext_str,
            values: self.values.filter(|p| !p.as_os_str().is_empty()),
            out: self.out,
            out_dir: self.out_dir,
            env_vars: inputs::ext_vars(std::env::vars()),
        }
    }
}

/// Runs `ferry render`.
pub fn run(args: RenderArgs, manifest: PathBuf, ctx: &Context, reporter: &mut Reporter) -> Outcome {
    let project = crate::project::load(args.repo.clone(), &manifest, ctx)?;
    render::run(&project, &args.options(), reporter)?;
    Ok(())
}
