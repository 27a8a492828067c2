//! Carrying out the plans: log in once, then per service (in parallel, up to
//! a limit) reuse the image with the same content tag or build and push it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tokio::sync::Semaphore;

use super::builder::{self, BuildSpec, BuilderKind, Recipe};
use super::mirror::Mirror;
use super::{BuildError, Plan};
use crate::aws::ecr::{Ecr, Image};
use crate::gha::Reporter;

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
    /// Built and pushed now.
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
    /// `host/repository@sha256:...` when there is an image.
    pub image: Option<String>,
    /// `sha256:...`
    pub digest: Option<String>,
    /// Size in bytes, as ECR reports it.
    pub size: Option<i64>,
    /// Built, reused, or failed.
    pub status: Status,
    /// Seconds spent on this service.
    pub seconds: f64,
    /// The builder's output (for the folded log group).
    #[serde(skip)]
    pub log: String,
}

struct Shared {
    recipe: Recipe,
    host: String,
    insecure: bool,
    root: PathBuf,
    ecr: Ecr,
    mirror: Option<Mirror>,
    scratch: tempfile::TempDir,
}

/// Logs in, then builds or reuses each plan. A failed service does not stop
/// the others; its outcome says why.
pub async fn execute(
    settings: &Settings,
    plans: Vec<Plan>,
    reporter: &mut Reporter,
) -> Result<Vec<Outcome>, BuildError> {
    let recipe = match settings.kind {
        BuilderKind::Docker => Recipe::Docker(docker_mode(&settings.root, reporter).await?),
        BuilderKind::Buildah => Recipe::Buildah,
    };
    let ecr = Ecr::from_env(&settings.region).await;
    let login = ecr.login().await?;
    reporter
        .mask(&login.password)
        .and_then(|()| reporter.mask(&login.basic))
        .map_err(|e| BuildError::Input(format!("cannot write the mask: {e}")))?;
    let (host, insecure) = settings
        .registry_host()
        .unwrap_or_else(|| (login.host.clone(), false));
    let mirror = if host == login.host {
        None
    } else {
        Some(
            Mirror::new(&host, insecure, Some(login.basic.clone()))
                .map_err(|e| BuildError::Input(e.to_string()))?,
        )
    };
    let scratch = tempfile::tempdir()
        .map_err(|e| BuildError::Input(format!("cannot create a scratch folder: {e}")))?;
    let auth_file = scratch.path().join("auth.json");
    let argv = builder::login_argv(settings.kind, &host, insecure, &auth_file);
    let out = builder::run(&argv, &settings.root, Some(&login.password))
        .await
        .map_err(|e| BuildError::Login {
            builder: argv[0].clone(),
            host: host.clone(),
            detail: format!("cannot run {}: {e}", argv[0]),
        })?;
    if !out.success {
        return Err(BuildError::Login {
            builder: argv[0].clone(),
            host,
            detail: out.log.trim().to_string(),
        });
    }
    let shared = Arc::new(Shared {
        recipe,
        host,
        insecure,
        root: settings.root.clone(),
        ecr,
        mirror,
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
            Err(e) => return Err(BuildError::Input(format!("a build task crashed: {e}"))),
        }
    }
    Ok(outcomes)
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
        &argv(&["docker", "version", "--format", "{{.Server.Version}}"]),
        root,
        None,
    )
    .await
    .map_err(|e| BuildError::Input(format!("cannot run docker: {e}\n  help: install the docker CLI, or build with `--builder buildah`")))?;
    if !version.success {
        return Err(BuildError::Input(format!(
            "docker cannot reach its daemon: {}\n  help: on GitHub's runners the daemon is there; elsewhere start it, set DOCKER_HOST, or build with `--builder buildah`",
            last_line(&version.log)
        )));
    }
    let has_buildx = builder::run(&argv(&["docker", "buildx", "version"]), root, None)
        .await
        .is_ok_and(|o| o.success);
    let inspect = if has_buildx {
        // buildx without a usable builder: its docker driver's recipe.
        Some(
            builder::run(&argv(&["docker", "buildx", "inspect"]), root, None)
                .await
                .ok()
                .filter(|o| o.success)
                .map(|o| o.log)
                .unwrap_or_default(),
        )
    } else {
        None
    };
    let (mode, driver) = builder::docker_mode(inspect.as_deref());
    reporter
        .info(&builder::docker_choice(
            mode,
            driver.as_deref(),
            version.log.trim(),
        ))
        .map_err(|e| BuildError::Input(format!("cannot write the log: {e}")))?;
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
            Ok(image)
        }
        Ok(None) => build(shared, &plan, &mut outcome.log).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(image) => {
            outcome.size = shared
                .ecr
                .size(&plan.repository, &image.digest)
                .await
                .ok()
                .flatten();
            outcome.image = Some(format!(
                "{}/{}@{}",
                shared.host, plan.repository, image.digest
            ));
            outcome.digest = Some(image.digest);
        }
        Err(why) => outcome.status = Status::Failed(why),
    }
    outcome.seconds = started.elapsed().as_secs_f64();
    outcome
}

/// The image already built from the same inputs, re-tagged with this run's
/// release tag; None when there is none (or the registry lost it).
async fn reuse(shared: &Shared, plan: &Plan) -> Result<Option<Image>, String> {
    let found = shared
        .ecr
        .find(&plan.repository, &plan.content_tag)
        .await
        .map_err(|e| e.to_string())?;
    let Some(image) = found else {
        return Ok(None);
    };
    if let Some(mirror) = &shared.mirror
        && mirror
            .tag(&plan.repository, &image, &plan.tag)
            .await
            .is_err()
    {
        // The registry no longer has the blobs ECR remembers: build again.
        return Ok(None);
    }
    shared
        .ecr
        .tag(&plan.repository, &image, &plan.tag)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Some(image))
}

async fn build(shared: &Shared, plan: &Plan, log: &mut String) -> Result<Image, String> {
    let scratch = shared.scratch.path().join(&plan.service);
    std::fs::create_dir_all(&scratch).map_err(|e| format!("scratch folder: {e}"))?;
    // buildah keeps the login in the shared auth file.
    let auth = shared.scratch.path().join("auth.json");
    if auth.exists() {
        let _ = std::fs::copy(&auth, scratch.join("auth.json"));
    }
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
    };
    let mut last_log = String::new();
    for argv in builder::build_argvs(shared.recipe, &spec) {
        log.push_str(&format!("$ {}\n", argv.join(" ")));
        let out = builder::run(&argv, &shared.root, None)
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
    let digest = match spec.digest_file(shared.recipe) {
        Some(file) => std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| builder::read_digest(shared.recipe, &t))
            .ok_or_else(|| format!("the builder did not report a digest in {}", file.display()))?,
        None => builder::read_digest(shared.recipe, &last_log)
            .ok_or("`docker push` did not print the pushed digest")?,
    };
    record(shared, plan, &spec, &digest).await
}

/// Makes sure ECR (and a separate registry) holds every tag for the digest.
async fn record(
    shared: &Shared,
    plan: &Plan,
    spec: &BuildSpec,
    digest: &str,
) -> Result<Image, String> {
    let repo = &plan.repository;
    let image = match shared
        .ecr
        .find(repo, digest)
        .await
        .map_err(|e| e.to_string())?
    {
        Some(image) => image,
        None => match &shared.mirror {
            Some(mirror) => mirror
                .manifest(repo, digest)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("the registry has no manifest {digest} after the push"))?,
            None => return Err(format!("ECR does not know the pushed image {digest}")),
        },
    };
    let pushed = builder::pushed_tags(shared.recipe, spec);
    for t in &spec.tags {
        if let Some(mirror) = &shared.mirror
            && !pushed.contains(t)
        {
            mirror
                .tag(repo, &image, t)
                .await
                .map_err(|e| e.to_string())?;
        }
        shared
            .ecr
            .tag(repo, &image, t)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(image)
}
