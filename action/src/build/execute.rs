//! Carrying out the plans: log in once, then per service (in parallel, up to
//! a limit) reuse the image with the same content tag or build and push it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tokio::sync::Semaphore;

use super::builder::{self, BuildSpec, BuilderKind, Recipe};
use super::{BuildError, Plan};
use crate::aws::ecr::{Ecr, Image};
use crate::gha::Reporter;
use crate::project::StageError;
use crate::registry::{self, Credentials, Registry};

/// Where and how to build.
#[derive(Debug, Clone)]
pub struct Settings {
    /// docker or buildah.
    pub kind: BuilderKind,
    /// Registry host override (`http://` prefix: no TLS).
    pub registry: Option<String>,
    /// Builds at once.
    pub parallel: usize,
    /// ECR's region.
    pub region: String,
    /// Repository root.
    pub root: PathBuf,
    /// Push and record the images (false: `--no-push`, no registry at all).
    pub push: bool,
    /// The login given as inputs (`registry-username`, `registry-token`);
    /// else the Docker config file's, else none.
    pub credentials: Option<Credentials>,
}

impl Settings {
    /// The registry override as its host and whether it is reached without
    /// TLS (written `http://host:port`); `None`: the account's ECR registry.
    pub fn registry_host(&self) -> Option<(String, bool)> {
        let r = self.registry.as_deref()?;
        Some(match r.strip_prefix("http://") {
            Some(h) => (h.to_string(), true),
            None => (r.trim_start_matches("https://").to_string(), false),
        })
    }

    /// Where the image of `plan` is pushed, by its release tag (the ECR
    /// host is `ACCOUNT.dkr.ecr.<region>.amazonaws.com` until a login names
    /// the account): what a release renders before it builds.
    pub fn planned_image(&self, plan: &super::Plan) -> String {
        let host = self.registry_host().map_or_else(
            || format!("ACCOUNT.dkr.ecr.{}.amazonaws.com", self.region),
            |(host, _)| host,
        );
        format!("{host}/{}:{}", plan.repository, plan.tag)
    }
}

/// How a service's image came to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status", content = "why")]
pub enum Status {
    /// Built (and pushed, unless `--no-push`) now.
    Built,
    /// An image with the same content tag existed; it was re-tagged.
    Reused,
    /// Nothing was pushed; why.
    Failed(String),
}

/// One service's result.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The service.
    pub service: String,
    /// Release tag.
    pub tag: String,
    /// Content tag.
    pub content_tag: String,
    /// `host/repository@sha256:...` when there is a pushed image;
    /// `host/repository:tag` for one built with `--no-push`.
    pub image: Option<String>,
    /// `sha256:...`
    pub digest: Option<String>,
    /// Size in bytes, as the registry reports it.
    pub size: Option<i64>,
    /// Built, reused, or failed.
    pub status: Status,
    /// Seconds spent on this service.
    pub seconds: f64,
    /// The builder's output (for the folded log group).
    #[serde(skip)]
    pub log: String,
}

/// Where the images go and how their tags are read: ECR's API for an ECR
/// host, the registry's own API for any other, nothing for `--no-push`.
#[derive(Debug)]
enum Target {
    /// An ECR registry (its login came from `GetAuthorizationToken`).
    Ecr(Ecr),
    /// Any other OCI registry.
    Oci(Box<Registry>),
    /// `--no-push`: the image stays with the builder.
    Local,
}

impl Target {
    async fn find(&self, repo: &str, reference: &str) -> Result<Option<Image>, String> {
        match self {
            Target::Ecr(ecr) => ecr.find(repo, reference).await.map_err(|e| e.to_string()),
            Target::Oci(reg) => reg
                .manifest(repo, reference)
                .await
                .map_err(|e| e.to_string()),
            Target::Local => Ok(None),
        }
    }

    async fn tag(&self, repo: &str, image: &Image, tag: &str) -> Result<(), String> {
        match self {
            Target::Ecr(ecr) => ecr.tag(repo, image, tag).await.map_err(|e| e.to_string()),
            Target::Oci(reg) => reg.tag(repo, image, tag).await.map_err(|e| e.to_string()),
            Target::Local => Ok(()),
        }
    }

    async fn size(&self, repo: &str, image: &Image) -> Option<i64> {
        match self {
            Target::Ecr(ecr) => ecr.size(repo, &image.digest).await.ok().flatten(),
            Target::Oci(_) => registry::manifest_size(&image.manifest),
            Target::Local => None,
        }
    }
}

struct Shared {
    recipe: Recipe,
    host: String,
    insecure: bool,
    root: PathBuf,
    target: Target,
    scratch: tempfile::TempDir,
}

/// Logs in (when pushing), then builds or reuses each plan. A failed
/// service does not stop the others; its outcome says why.
pub async fn execute(
    settings: &Settings,
    plans: Vec<Plan>,
    reporter: &mut Reporter,
) -> Result<Vec<Outcome>, BuildError> {
    let recipe = match settings.kind {
        BuilderKind::Docker => Recipe::Docker(docker_mode(&settings.root, reporter).await?),
        BuilderKind::Buildah => Recipe::Buildah,
    };
    let scratch = tempfile::tempdir()
        .map_err(|e| BuildError::input(format!("cannot create a scratch folder: {e}")))?;
    let (host, insecure, target) = if settings.push {
        connect(settings, recipe, scratch.path(), reporter).await?
    } else {
        let host = settings.registry_host().unwrap_or_else(|| {
            (
                format!("ACCOUNT.dkr.ecr.{}.amazonaws.com", settings.region),
                false,
            )
        });
        reporter
            .info(&format!(
                "--no-push: building for {}, no login, nothing pushed or reused",
                host.0
            ))
            .map_err(|e| BuildError::input(format!("cannot write the log: {e}")))?;
        (host.0, host.1, Target::Local)
    };
    let shared = Arc::new(Shared {
        recipe,
        host,
        insecure,
        root: settings.root.clone(),
        target,
        scratch,
    });
    let limit = Arc::new(Semaphore::new(settings.parallel));
    let mut tasks = Vec::new();
    for plan in plans {
        let shared = Arc::clone(&shared);
        let limit = Arc::clone(&limit);
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await;
            one(&shared, plan).await
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        match task.await {
            Ok(outcome) => outcomes.push(outcome),
            Err(e) => return Err(BuildError::input(format!("a build task crashed: {e}"))),
        }
    }
    Ok(outcomes)
}

/// The registry's host and its login: ECR's (`GetAuthorizationToken`, only
/// for an ECR host or when no registry is named), else the inputs', else
/// the Docker config file's, else none (an anonymous registry). The builder
/// gets the login too: `docker login` for a login Docker does not already
/// hold, buildah an auth file of its own.
async fn connect(
    settings: &Settings,
    recipe: Recipe,
    scratch: &std::path::Path,
    reporter: &mut Reporter,
) -> Result<(String, bool, Target), BuildError> {
    let named = settings.registry_host();
    let auth_file = scratch.join("auth.json");
    let mask = |reporter: &mut Reporter, c: &Credentials| {
        reporter
            .mask(&c.password)
            .and_then(|()| reporter.mask(&c.basic()))
            .map_err(|e| BuildError::input(format!("cannot write the mask: {e}")))
    };
    let ecr_host = named.as_ref().is_none_or(|(h, _)| registry::is_ecr_host(h));
    let (host, insecure, target, login, docker_has_it) = if ecr_host {
        let ecr = Ecr::from_env(&settings.region).await;
        let token = ecr.login().await?;
        let (host, insecure) = named.unwrap_or_else(|| (token.host.clone(), false));
        let login = Credentials {
            username: token.username.clone(),
            password: token.password.clone(),
        };
        (host, insecure, Target::Ecr(ecr), Some(login), false)
    } else {
        let (host, insecure) = named.unwrap_or_default();
        let (login, docker_has_it) = match &settings.credentials {
            Some(c) => (Some(c.clone()), false),
            None => docker_config_login(&host)?,
        };
        let reg = Registry::new(&host, insecure, login.clone())
            .map_err(|e| BuildError::input(e.to_string()))?;
        (
            host,
            insecure,
            Target::Oci(Box::new(reg)),
            login,
            docker_has_it,
        )
    };
    if let Some(login) = &login {
        mask(reporter, login)?;
    }
    let builder_login = |detail: String| BuildError::Login {
        builder: match recipe.kind() {
            BuilderKind::Docker => "docker".into(),
            BuilderKind::Buildah => "buildah".into(),
        },
        host: host.clone(),
        detail,
    };
    match (recipe.kind(), &login) {
        (BuilderKind::Buildah, login) => {
            let text = login
                .as_ref()
                .map_or_else(|| r#"{"auths":{}}"#.to_string(), |l| l.auth_file(&host));
            std::fs::write(&auth_file, text)
                .map_err(|e| builder_login(format!("cannot write buildah's auth file: {e}")))?;
        }
        (BuilderKind::Docker, Some(login)) if !docker_has_it => {
            let argv = builder::login_argv(
                BuilderKind::Docker,
                &host,
                insecure,
                &auth_file,
                &login.username,
            );
            let out = builder::run(&argv, &settings.root, Some(&login.password), &[])
                .await
                .map_err(|e| builder_login(format!("cannot run {}: {e}", argv[0])))?;
            if !out.success {
                return Err(builder_login(out.log.trim().to_string()));
            }
        }
        (BuilderKind::Docker, _) => {}
    }
    Ok((host, insecure, target))
}

/// The login a Docker config file holds for `host`, if any, and whether
/// the builder already reads it: first the builder's own file
/// (`$DOCKER_CONFIG`, `~/.docker`), then the runner's, which
/// action/container-run mounts read-only into the action's container and
/// names in [`registry::RUNNER_DOCKER_CONFIG`] (docker/login-action wrote
/// it on the runner; docker inside the container does not read it, so
/// Ferry gives docker that login itself).
fn docker_config_login(host: &str) -> Result<(Option<Credentials>, bool), BuildError> {
    let env = |k: &str| std::env::var(k).ok();
    let own = registry::docker_config_path(&env);
    let runner = env(registry::RUNNER_DOCKER_CONFIG)
        .filter(|p| !p.trim().is_empty())
        .map(PathBuf::from);
    for (path, builder_reads_it) in [(own, true), (runner, false)] {
        let Some(path) = path else { continue };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(BuildError::input(format!(
                    "{}: cannot read the Docker config file: {e}",
                    path.display()
                )));
            }
        };
        if let Some(login) = registry::from_docker_config(&text, host)
            .map_err(|e| BuildError::input(format!("{}: {e}", path.display())))?
        {
            return Ok((Some(login), builder_reads_it));
        }
    }
    Ok((None, true))
}

/// Asks docker what it can do (`docker version`, `docker buildx version`,
/// `docker buildx inspect`), picks the recipe and logs the choice.
async fn docker_mode(
    root: &std::path::Path,
    reporter: &mut Reporter,
) -> Result<builder::DockerMode, BuildError> {
    let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let last_line = |log: &str| {
        log.lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output")
            .to_string()
    };
    let version = builder::run(
        &argv(&[
            "docker",
            "version",
            "--format",
            "{{.Server.Version}} {{.Client.Version}}",
        ]),
        root,
        None,
        &[],
    )
    .await
    .map_err(|e| BuildError::input(format!("cannot run docker: {e}\n  help: install the docker CLI, or build with `--builder buildah`")))?;
    if !version.success {
        return Err(BuildError::input(format!(
            "docker cannot reach its daemon: {}\n  help: on GitHub's runners the daemon is there; elsewhere start it, set DOCKER_HOST, or build with `--builder buildah`",
            last_line(&version.log)
        )));
    }
    let has_buildx = builder::run(&argv(&["docker", "buildx", "version"]), root, None, &[])
        .await
        .is_ok_and(|o| o.success);
    let inspect = if has_buildx {
        // buildx without a usable builder: its docker driver's recipe.
        Some(
            builder::run(&argv(&["docker", "buildx", "inspect"]), root, None, &[])
                .await
                .ok()
                .filter(|o| o.success)
                .map(|o| o.log)
                .unwrap_or_default(),
        )
    } else {
        None
    };
    let mut versions = version.log.split_whitespace();
    let server = versions.next().unwrap_or("unknown");
    let client = versions.next().unwrap_or("");
    let (mode, driver) = builder::docker_mode(inspect.as_deref(), client);
    reporter
        .info(&builder::docker_choice(mode, driver.as_deref(), server))
        .map_err(|e| BuildError::input(format!("cannot write the log: {e}")))?;
    Ok(mode)
}

#[tracing::instrument(name = "build", skip_all, fields(service = %plan.service, image.tag = %plan.tag))]
async fn one(shared: &Shared, plan: Plan) -> Outcome {
    let started = Instant::now();
    let mut outcome = Outcome {
        service: plan.service.clone(),
        tag: plan.tag.clone(),
        content_tag: plan.content_tag.clone(),
        image: None,
        digest: None,
        size: None,
        status: Status::Built,
        seconds: 0.0,
        log: String::new(),
    };
    let lookup = if plan.dirty.is_empty() {
        reuse(shared, &plan).await
    } else {
        Ok(None)
    };
    let result = match lookup {
        Ok(Some(image)) => {
            outcome.status = Status::Reused;
            Ok(Some(image))
        }
        Ok(None) => build(shared, &plan, &mut outcome.log).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(Some(image)) => {
            outcome.size = shared.target.size(&plan.repository, &image).await;
            outcome.image = Some(format!(
                "{}/{}@{}",
                shared.host, plan.repository, image.digest
            ));
            outcome.digest = Some(image.digest);
        }
        // Built with `--no-push`: the builder holds it by its release tag.
        Ok(None) => {
            outcome.image = Some(format!("{}/{}:{}", shared.host, plan.repository, plan.tag));
        }
        Err(why) => outcome.status = Status::Failed(why),
    }
    outcome.seconds = started.elapsed().as_secs_f64();
    outcome
}

/// The image already built from the same inputs, re-tagged with this run's
/// release tag through the registry's API; None when there is none.
async fn reuse(shared: &Shared, plan: &Plan) -> Result<Option<Image>, String> {
    let Some(image) = shared
        .target
        .find(&plan.repository, &plan.content_tag)
        .await?
    else {
        return Ok(None);
    };
    shared
        .target
        .tag(&plan.repository, &image, &plan.tag)
        .await?;
    Ok(Some(image))
}

/// Builds the image and pushes its tags; None with `--no-push`.
async fn build(shared: &Shared, plan: &Plan, log: &mut String) -> Result<Option<Image>, String> {
    let scratch = shared.scratch.path().join(&plan.service);
    std::fs::create_dir_all(&scratch).map_err(|e| format!("scratch folder: {e}"))?;
    // buildah keeps the login in the shared auth file.
    let auth = shared.scratch.path().join("auth.json");
    let copied = if auth.exists() {
        std::fs::copy(&auth, scratch.join("auth.json")).map(|_| ())
    } else {
        // No login (`--no-push`, an anonymous registry): an empty one.
        std::fs::write(scratch.join("auth.json"), r#"{"auths":{}}"#)
    };
    copied.map_err(|e| format!("scratch auth file: {e}"))?;
    let spec = BuildSpec {
        root: shared.root.clone(),
        dockerfile: plan.dockerfile.clone(),
        context: plan.context.clone(),
        image: format!("{}/{}", shared.host, plan.repository),
        tags: if plan.dirty.is_empty() {
            vec![plan.tag.clone(), plan.content_tag.clone()]
        } else {
            vec![plan.tag.clone()]
        },
        labels: plan.labels.clone(),
        insecure: shared.insecure,
        scratch,
        push: !matches!(shared.target, Target::Local),
        cache_from: plan
            .cache_from
            .iter()
            .map(|t| format!("{}/{}:{t}", shared.host, plan.repository))
            .collect(),
    };
    let env = builder::command_env(shared.recipe);
    for argv in builder::cache_pulls(shared.recipe, &spec) {
        log.push_str(&format!("$ {}\n", argv.join(" ")));
        match builder::run(&argv, &shared.root, None, &env).await {
            Ok(out) if out.success => log.push_str(&out.log),
            // No last image (a first build, another registry): no cache.
            Ok(out) => log.push_str(&format!("(no cache from it) {}", out.log)),
            Err(e) => log.push_str(&format!("(no cache from it) cannot run docker: {e}\n")),
        }
    }
    let mut last_log = String::new();
    for argv in builder::build_argvs(shared.recipe, &spec) {
        log.push_str(&format!("$ {}\n", argv.join(" ")));
        let out = builder::run(&argv, &shared.root, None, &env)
            .await
            .map_err(|e| format!("cannot run {}: {e}", argv[0]))?;
        log.push_str(&out.log);
        last_log.clone_from(&out.log);
        if !out.success {
            let last = out
                .log
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no output");
            return Err(format!("`{} {}` failed: {last}", argv[0], argv[1]));
        }
    }
    if !spec.push {
        return Ok(None);
    }
    let digest = match spec.digest_file(shared.recipe) {
        Some(file) => std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| builder::read_digest(shared.recipe, &t))
            .ok_or_else(|| format!("the builder did not report a digest in {}", file.display()))?,
        None => builder::read_digest(shared.recipe, &last_log)
            .ok_or("`docker push` did not print the pushed digest")?,
    };
    record(shared, plan, &spec, &digest).await.map(Some)
}

/// Reads the pushed image back from the registry and adds the tags the
/// builder did not push itself, so every tag names the one digest.
async fn record(
    shared: &Shared,
    plan: &Plan,
    spec: &BuildSpec,
    digest: &str,
) -> Result<Image, String> {
    let repo = &plan.repository;
    let image = shared
        .target
        .find(repo, digest)
        .await?
        .ok_or_else(|| format!("the registry has no manifest {digest} after the push"))?;
    let pushed = builder::pushed_tags(shared.recipe, spec);
    for t in spec.tags.iter().filter(|t| !pushed.contains(t)) {
        shared.target.tag(repo, &image, t).await?;
    }
    Ok(image)
}
