//! `ferry build`: its arguments and their conversion to the library's options.

use std::path::PathBuf;

use clap::Args;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use ferry::build;
use ferry::gha::{Context, Reporter};
use ferry::inputs::{self, services};
use ferry::manifest::BuilderKind;
use ferry::project::Project;

use crate::failure::{Failure, Outcome};

/// The arguments of `ferry build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Services: comma-, space- or newline-separated, a JSON list, detect's
    /// `matrix`, or `all`.
    #[arg(long, env = "INPUT_SERVICES")]
    services: Option<String>,
    /// The image builder (default: the manifest's build.builder, else docker).
    #[arg(long, env = "INPUT_BUILDER", ignore_case = true, value_parser = builder_parser())]
    pub builder: Option<Builder>,
    /// Registry host to push to (default: the manifest's build.registry, else
    /// the account's ECR registry); `http://host:port` for one without TLS.
    #[arg(long, env = "INPUT_REGISTRY")]
    registry: Option<String>,
    /// How many services build at once (default: build.parallel, else 2).
    #[arg(long, env = "INPUT_PARALLEL")]
    parallel: Option<String>,
    /// Build and report only: no registry login, no push, no reuse (for
    /// pull requests, which have no credentials).
    #[arg(long, env = "INPUT_NO-PUSH", value_parser = inputs::boolean)]
    no_push: bool,
    #[command(flatten)]
    login: RegistryLoginArgs,
    /// The repository root (default: $GITHUB_WORKSPACE, else the current folder).
    #[arg(long)]
    repo: Option<PathBuf>,
}

/// The registry login given as options (`build` and `release` alike).
#[derive(Debug, Args)]
pub struct RegistryLoginArgs {
    /// The registry user name (with `--registry-token`; default: the
    /// login in the Docker config file, as docker/login-action leaves it).
    #[arg(long, env = "INPUT_REGISTRY-USERNAME")]
    registry_username: Option<String>,
    /// The registry password or token, from a secret (never logged). Give
    /// it through the environment (the `registry-token` input): an argument
    /// shows in the process list.
    #[arg(long, env = "INPUT_REGISTRY-TOKEN", hide_env_values = true)]
    registry_token: Option<String>,
}

impl RegistryLoginArgs {
    /// Both or neither: a user name without its token (or the reverse) is
    /// refused, naming what to give; the token is never in the message.
    pub fn credentials(self) -> Result<Option<ferry::registry::Credentials>, Failure> {
        match (
            inputs::present(self.registry_username),
            inputs::present(self.registry_token),
        ) {
            (Some(username), Some(token)) => Ok(Some(ferry::registry::Credentials {
                username,
                password: ferry::gha::Secret::new(token),
            })),
            (None, None) => Ok(None),
            (Some(_), None) => Err(Failure::message(
                "registry-username is given without registry-token: give both (the token from a secret), or neither to use the Docker config file's login".to_string(),
            )),
            (None, Some(_)) => Err(Failure::message(
                "registry-token is given without registry-username: give both, or neither to use the Docker config file's login".to_string(),
            )),
        }
    }
}

/// `--builder` / the `builder` input, read by [`inputs::builder`]; empty
/// (an input not given) is the manifest's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Builder(pub Option<BuilderKind>);

/// Clap lists the builders in `--help` and refuses any other; the names
/// are those [`inputs::builder`] reads (`buildx` and empty hidden).
pub fn builder_parser() -> impl TypedValueParser<Value = Builder> {
    PossibleValuesParser::new([
        PossibleValue::new("docker")
            .help("docker buildx (`buildx` is accepted too)")
            .alias("buildx"),
        PossibleValue::new("buildah").help("buildah, daemonless"),
        PossibleValue::new("").hide(true),
    ])
    .try_map(|name| {
        inputs::builder(&name)
            .map(Builder)
            .map_err(|e| clap::Error::raw(clap::error::ErrorKind::InvalidValue, e))
    })
}

/// The builder asked for, if any.
pub fn builder_kind(arg: Option<Builder>) -> Option<BuilderKind> {
    arg.and_then(|b| b.0)
}

impl BuildArgs {
    /// The library's options; bad input is refused here.
    pub fn options(self) -> Result<build::Options, Failure> {
        let parallel = match inputs::present(self.parallel) {
            Some(text) => Some(
                inputs::parallel(&text, "--parallel, the `parallel` input")
                    .map_err(Failure::message)?,
            ),
            None => None,
        };
        let credentials = self.login.credentials()?;
        Ok(build::Options {
            no_push: self.no_push,
            credentials,
            services: services::given(self.services.as_deref()).map_err(Failure::message)?,
            builder: builder_kind(self.builder),
            registry: inputs::present(self.registry),
            parallel,
        })
    }
}

/// Runs `ferry build`.
pub async fn run(
    args: BuildArgs,
    manifest: PathBuf,
    ctx: &Context,
    reporter: &mut Reporter,
) -> Outcome {
    let repo = args.repo.clone();
    let opts = args.options()?;
    let git = build::open_git(&crate::project::root(repo, ctx))?;
    let project = Project::load(git.root().to_path_buf(), &manifest)?;
    build::run(ctx, &project, &git, &opts, reporter).await?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::Cli;
    use crate::command::Command;

    fn build(args: &[&str]) -> Result<BuildArgs, clap::Error> {
        Cli::try_parse_from([&["ferry", "build"], args].concat()).map(|cli| match cli.command {
            Command::Build(b) => b,
            _ => unreachable!(),
        })
    }

    #[test]
    fn builders_and_parallelism_are_checked() {
        let builder = |args: &[&str]| build(args).map(|b| builder_kind(b.builder));
        assert_eq!(builder(&[]).unwrap(), None);
        assert_eq!(builder(&["--builder", ""]).unwrap(), None);
        assert_eq!(
            builder(&["--builder", "buildah"]).unwrap(),
            Some(BuilderKind::Buildah)
        );
        assert_eq!(
            builder(&["--builder", "BuildX"]).unwrap(),
            Some(BuilderKind::Docker)
        );
        let refused = builder(&["--builder", "kaniko"]).unwrap_err().to_string();
        assert!(
            refused.contains("[possible values: docker, buildah]"),
            "{refused}"
        );
        let parallel = |n: &str| {
            build(&["--parallel", n])
                .unwrap()
                .options()
                .map(|o| o.parallel)
        };
        assert_eq!(parallel("4").unwrap(), Some(4));
        assert_eq!(parallel(" ").unwrap(), None);
        let refused = parallel("17").unwrap_err().error.to_string();
        assert_eq!(
            refused,
            "parallel: 17 is out of range (--parallel, the `parallel` input): give a number from 1 to 16"
        );
        assert!(parallel("0").is_err());
    }

    #[test]
    fn services_are_read_before_any_work() {
        let services = |s: &str| build(&["--services", s]).unwrap().options();
        assert_eq!(services("  ").unwrap().services, None);
        let err = services("[a").unwrap_err().error.to_string();
        assert!(err.contains("`services` is not valid JSON"), "{err}");
    }

    /// `build` and `release` take the same login, both or neither.
    #[test]
    fn build_and_release_take_the_registry_login() {
        let release = |args: &[&str]| {
            Cli::try_parse_from([&["ferry", "release"], args].concat()).map(|cli| {
                match cli.command {
                    Command::Release(r) => r.options(),
                    _ => unreachable!(),
                }
            })
        };
        let both = ["--registry-username", "robot", "--registry-token", "s3cret"];
        let built = build(&both).unwrap().options().unwrap();
        let released = release(&both).unwrap().unwrap();
        for c in [built.credentials, released.build.credentials] {
            let c = c.unwrap();
            assert_eq!(c.username, "robot");
            assert_eq!(c.password.expose(), "s3cret");
        }
        assert!(release(&[]).unwrap().unwrap().build.credentials.is_none());
        let half = release(&["--registry-token", "s3cret"])
            .unwrap()
            .unwrap_err()
            .error
            .to_string();
        assert_eq!(
            half,
            "registry-token is given without registry-username: give both, or neither to use the Docker config file's login"
        );
        let half = build(&["--registry-username", "robot"])
            .unwrap()
            .options()
            .unwrap_err()
            .error
            .to_string();
        assert!(
            half.starts_with("registry-username is given without registry-token"),
            "{half}"
        );
    }
}
