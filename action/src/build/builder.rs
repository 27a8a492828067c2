//! The image builder: `docker` (buildx; without buildx, the CLI's built-in
//! BuildKit or the classic builder) or `buildah`, always run with an
//! argument vector (never a shell string), the registry password on stdin.
//! Every docker recipe reads the cache the previous build wrote: the
//! service's last image (`--cache-from`), or the registry cache.
//!
//! The argument vectors are pure functions of a [`Recipe`] and a
//! [`BuildSpec`], so they are tested without a daemon; which docker recipe
//! fits this machine is a pure function of what `docker buildx inspect` said
//! ([`docker_mode`]); [`run`] is the thin adapter that executes a command.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::AsyncWriteExt;

use crate::gha::Secret;
pub use crate::manifest::BuilderKind;

/// Everything one image build needs to know.
#[derive(Debug, Clone)]
pub struct BuildSpec {
    /// The repository root (commands run here).
    pub root: PathBuf,
    /// The Dockerfile, relative to the root.
    pub dockerfile: String,
    /// The build context, relative to the root.
    pub context: String,
    /// `host/repository`, without a tag.
    pub image: String,
    /// Tags to push (the first is the release tag).
    pub tags: Vec<String>,
    /// Image labels.
    pub labels: Vec<(String, String)>,
    /// The registry speaks plain HTTP (a local registry).
    pub insecure: bool,
    /// Where the builder writes what it pushed (digest file, metadata).
    pub scratch: PathBuf,
    /// Push the tags (false: `--no-push`, the image stays with the builder).
    pub push: bool,
    /// The service's last images (`host/repository:tag`), whose cache this
    /// build reads: the inline cache the previous build wrote on them.
    pub cache_from: Vec<String>,
}

/// The tag of the registry cache, in the cache repository
/// `<repository>-buildcache` ([`cache_ref`]): never in the image's own
/// repository, whose IMMUTABLE tags refuse a cache that moves.
pub const CACHE_TAG: &str = "buildcache";

/// The registry cache's reference for an image `host/repository`.
pub fn cache_ref(image: &str) -> String {
    format!("{image}-buildcache:{CACHE_TAG}")
}

/// How `docker` builds on this machine, decided by [`docker_mode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DockerMode {
    /// No buildx and a docker CLI that refuses BuildKit without it (23.0
    /// and later): the classic builder; the last image is pulled and given
    /// as `--cache-from` (the classic builder reuses the layers of a local
    /// image only), then `docker push` per tag.
    Classic,
    /// No buildx and a docker CLI with BuildKit built in (before 23.0):
    /// `DOCKER_BUILDKIT=1 docker build`, the daemon's own BuildKit (the
    /// engine of buildx's `docker` driver). The image carries an inline
    /// cache (`BUILDKIT_INLINE_CACHE=1`) and the next build reads it from
    /// the registry with `--cache-from` of the last image; then `docker
    /// push` per tag.
    BuildKit,
    /// buildx on the `docker` driver (GitHub's runners without
    /// setup-buildx): it refuses a registry `--cache-to`, so the image
    /// carries an inline cache and the next build reads it.
    BuildxDocker,
    /// buildx on a `docker-container`, `remote` or `kubernetes` driver: a
    /// registry cache (all layers) in `<repository>-buildcache`.
    BuildxContainer,
}

/// What the docker builder will run: [`DockerMode`] for docker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipe {
    /// The docker CLI, in the mode this machine supports.
    Docker(DockerMode),
    /// buildah build + push.
    Buildah,
}

impl Recipe {
    /// The builder the user chose.
    pub fn kind(self) -> BuilderKind {
        match self {
            Recipe::Docker(_) => BuilderKind::Docker,
            Recipe::Buildah => BuilderKind::Buildah,
        }
    }
}

/// Whether a docker CLI of `client_version` builds with BuildKit when
/// buildx is missing: the CLI had BuildKit built in until 23.0; later ones
/// refuse `DOCKER_BUILDKIT=1` without buildx. An unreadable version: no.
pub fn builtin_buildkit(client_version: &str) -> bool {
    client_version
        .trim()
        .split('.')
        .next()
        .and_then(|major| major.parse::<u32>().ok())
        .is_some_and(|major| (18..23).contains(&major))
}

/// The docker mode from `docker buildx inspect`'s output (None when buildx
/// is missing or failed) and the CLI's version, and the driver it named.
/// An unknown driver gets the docker driver's recipe: no cache export is
/// safer than a refused one.
pub fn docker_mode(
    buildx_inspect: Option<&str>,
    client_version: &str,
) -> (DockerMode, Option<String>) {
    let Some(text) = buildx_inspect else {
        let mode = if builtin_buildkit(client_version) {
            DockerMode::BuildKit
        } else {
            DockerMode::Classic
        };
        return (mode, None);
    };
    let driver = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Driver:"))
        .map(|d| d.trim().to_string())
        .next();
    let mode = match driver.as_deref() {
        Some("docker-container" | "remote" | "kubernetes") => DockerMode::BuildxContainer,
        _ => DockerMode::BuildxDocker,
    };
    (mode, driver)
}

/// One log line saying which docker recipe was chosen and why.
pub fn docker_choice(mode: DockerMode, driver: Option<&str>, server: &str) -> String {
    // Both come from the daemon: keep them to a version's characters.
    let clean = |t: &str| -> String {
        t.chars()
            .filter(|c| c.is_ascii_alphanumeric() || "._+-~".contains(*c))
            .take(40)
            .collect()
    };
    let driver = clean(driver.unwrap_or("unknown"));
    let server = clean(server);
    match mode {
        DockerMode::Classic => format!(
            "docker {server}, no buildx: `docker build` then `docker push`, the classic builder (this CLI needs buildx for BuildKit): cache from the last image, pulled"
        ),
        DockerMode::BuildKit => format!(
            "docker {server}, no buildx: `DOCKER_BUILDKIT=1 docker build` then `docker push`, inline cache read back from the last image"
        ),
        DockerMode::BuildxDocker => format!(
            "docker {server}, buildx driver `{driver}`: `docker buildx build --push`, inline cache read back from the last image (this driver refuses a registry cache)"
        ),
        DockerMode::BuildxContainer => format!(
            "docker {server}, buildx driver `{driver}`: `docker buildx build --push`, registry cache in <repository>-buildcache:{CACHE_TAG}"
        ),
    }
}

impl BuildSpec {
    fn refs(&self) -> Vec<String> {
        self.tags
            .iter()
            .map(|t| format!("{}:{t}", self.image))
            .collect()
    }

    /// Where the builder records the pushed digest; None when it is read
    /// from the output of `docker push` (the classic builder).
    pub fn digest_file(&self, recipe: Recipe) -> Option<PathBuf> {
        match recipe {
            Recipe::Docker(DockerMode::Classic | DockerMode::BuildKit) => None,
            Recipe::Docker(_) => Some(self.scratch.join("metadata.json")),
            Recipe::Buildah => Some(self.scratch.join("digest")),
        }
    }

    /// The auth file buildah uses (docker keeps its own config).
    pub fn auth_file(&self) -> PathBuf {
        self.scratch.join("auth.json")
    }
}

/// `docker login` / `buildah login` as `username`, the password on stdin.
pub fn login_argv(
    kind: BuilderKind,
    host: &str,
    insecure: bool,
    auth_file: &Path,
    username: &str,
) -> Vec<String> {
    let mut argv: Vec<String> = match kind {
        BuilderKind::Docker => vec!["docker".into(), "login".into()],
        BuilderKind::Buildah => vec![
            "buildah".into(),
            "login".into(),
            "--authfile".into(),
            auth_file.display().to_string(),
        ],
    };
    if insecure && kind == BuilderKind::Buildah {
        argv.push("--tls-verify=false".into());
    }
    argv.extend([
        "--username".into(),
        username.into(),
        "--password-stdin".into(),
        host.into(),
    ]);
    argv
}

/// The commands that build the image and push its tags, in order.
pub fn build_argvs(recipe: Recipe, spec: &BuildSpec) -> Vec<Vec<String>> {
    let refs = spec.refs();
    match recipe {
        Recipe::Docker(mode @ (DockerMode::Classic | DockerMode::BuildKit)) => {
            docker_argvs(mode, spec, &refs)
        }
        Recipe::Docker(mode) => buildx_argvs(mode, spec, &refs),
        Recipe::Buildah => buildah_argvs(spec, &refs),
    }
}

/// `--file`, then a `--tag` for each ref and a `--label k=v` for each of
/// the image's labels: what every builder's build command takes.
fn file_tags_labels(spec: &BuildSpec, refs: &[String]) -> Vec<String> {
    let mut args = vec!["--file".to_string(), spec.dockerfile.clone()];
    for r in refs {
        args.extend(["--tag".into(), r.clone()]);
    }
    args.extend(
        spec.labels
            .iter()
            .flat_map(|(k, v)| ["--label".to_string(), format!("{k}={v}")]),
    );
    args
}

/// `docker build` (classic or BuildKit), then `docker push` of each tag.
fn docker_argvs(mode: DockerMode, spec: &BuildSpec, refs: &[String]) -> Vec<Vec<String>> {
    let mut build: Vec<String> = vec!["docker".into(), "build".into()];
    if mode == DockerMode::BuildKit {
        // Each step's outcome (`CACHED`) in the log.
        build.push("--progress=plain".into());
    }
    build.extend(file_tags_labels(spec, refs));
    if mode == DockerMode::BuildKit {
        // The cache metadata goes into the image config and is
        // pushed with it: what the next build's --cache-from reads.
        build.extend(["--build-arg".into(), "BUILDKIT_INLINE_CACHE=1".into()]);
    }
    for r in &spec.cache_from {
        build.extend(["--cache-from".into(), r.clone()]);
    }
    build.push(spec.context.clone());
    let mut out = vec![build];
    // Every tag names the one image built, so one digest.
    for r in refs.iter().filter(|_| spec.push) {
        out.push(vec!["docker".into(), "push".into(), r.clone()]);
    }
    out
}

/// One `docker buildx build` that pushes (or loads) and writes the digest
/// to a metadata file, with a registry cache (container driver) or inline
/// cache metadata (docker driver).
fn buildx_argvs(mode: DockerMode, spec: &BuildSpec, refs: &[String]) -> Vec<Vec<String>> {
    let mut argv: Vec<String> = ["docker", "buildx", "build"].map(String::from).into();
    // Without a push, the image is loaded into the daemon's store.
    argv.push(if spec.push { "--push" } else { "--load" }.into());
    // A plain image manifest (no attestation index): one digest that
    // ECS pulls and ECR scans like any other image.
    argv.push("--provenance=false".into());
    argv.extend(file_tags_labels(spec, refs));
    if mode == DockerMode::BuildxContainer {
        let cache = cache_ref(&spec.image);
        argv.extend([
            "--cache-from".into(),
            format!("type=registry,ref={cache}"),
            "--cache-to".into(),
            // ECR needs the cache as an OCI image manifest; a missing
            // cache repository costs the cache, not the release.
            format!(
                "type=registry,ref={cache},mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true"
            ),
        ]);
    } else {
        // The docker driver refuses a registry cache export: the
        // image carries inline cache metadata, and the next build
        // reads it from the service's last image.
        for r in &spec.cache_from {
            argv.extend(["--cache-from".into(), format!("type=registry,ref={r}")]);
        }
        argv.extend(["--cache-to".into(), "type=inline".into()]);
    }
    argv.extend([
        "--metadata-file".into(),
        spec.scratch.join("metadata.json").display().to_string(),
        spec.context.clone(),
    ]);
    vec![argv]
}

/// `buildah build`, then one `buildah push` of the release tag (the other
/// tags name the same manifest).
fn buildah_argvs(spec: &BuildSpec, refs: &[String]) -> Vec<Vec<String>> {
    let tls = spec.insecure.then(|| "--tls-verify=false".to_string());
    let mut build: Vec<String> = vec!["buildah".into(), "build".into()];
    build.extend(tls.clone());
    build.extend([
        "--authfile".into(),
        spec.auth_file().display().to_string(),
        "--layers".into(),
    ]);
    build.extend(file_tags_labels(spec, refs));
    build.push(spec.context.clone());
    let mut out = vec![build];
    // The release tag is pushed; the other tags are added to the same
    // manifest afterwards, so every tag names one digest.
    if let Some(first) = refs.first().filter(|_| spec.push) {
        let mut push: Vec<String> = vec!["buildah".into(), "push".into()];
        push.extend(tls);
        push.extend([
            "--authfile".into(),
            spec.auth_file().display().to_string(),
            "--digestfile".into(),
            spec.scratch.join("digest").display().to_string(),
            first.clone(),
            format!("docker://{first}"),
        ]);
        out.push(push);
    }
    out
}

/// The variables the build commands need besides the environment:
/// `DOCKER_BUILDKIT=1` for the CLI's built-in BuildKit.
pub fn command_env(recipe: Recipe) -> Vec<(String, String)> {
    match recipe {
        Recipe::Docker(DockerMode::BuildKit) => vec![("DOCKER_BUILDKIT".into(), "1".into())],
        // The classic builder must not be switched to BuildKit by the
        // caller's environment (a CLI without buildx would refuse).
        Recipe::Docker(DockerMode::Classic) => vec![("DOCKER_BUILDKIT".into(), "0".into())],
        _ => Vec::new(),
    }
}

/// What runs before the build and may fail without failing it: the
/// classic builder reuses only local layers, so it pulls the service's
/// last images first (a missing one is no error, only no cache).
pub fn cache_pulls(recipe: Recipe, spec: &BuildSpec) -> Vec<Vec<String>> {
    match recipe {
        Recipe::Docker(DockerMode::Classic) => spec
            .cache_from
            .iter()
            .map(|r| vec!["docker".into(), "pull".into(), "--quiet".into(), r.clone()])
            .collect(),
        _ => Vec::new(),
    }
}

/// Tags the builder pushes itself; the rest are added by re-tagging.
pub fn pushed_tags(recipe: Recipe, spec: &BuildSpec) -> Vec<String> {
    match recipe {
        Recipe::Docker(_) => spec.tags.clone(),
        Recipe::Buildah => spec.tags.iter().take(1).cloned().collect(),
    }
}

/// Reads the pushed digest from what the builder wrote: buildx's metadata
/// file, buildah's digest file, or the output of the classic `docker push`
/// (`<tag>: digest: sha256:<hex> size: <n>`).
pub fn read_digest(recipe: Recipe, text: &str) -> Option<String> {
    let digest = match recipe {
        Recipe::Docker(DockerMode::Classic | DockerMode::BuildKit) => text
            .lines()
            .rev()
            .filter_map(|l| l.split_once(": digest: "))
            .filter_map(|(_, rest)| rest.split_whitespace().next())
            .next()?
            .to_string(),
        Recipe::Docker(_) => serde_json::from_str::<serde_json::Value>(text)
            .ok()?
            .get("containerimage.digest")?
            .as_str()?
            .to_string(),
        Recipe::Buildah => text.trim().to_string(),
    };
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(digest)
}

/// What one command printed.
#[derive(Debug, Clone)]
pub struct CommandOutput {
    /// The argument vector, for messages.
    pub argv: Vec<String>,
    /// Exit success.
    pub success: bool,
    /// stdout then stderr, as text.
    pub log: String,
}

/// Runs one argument vector in `dir`, feeding `stdin` (the password) if
/// given, and captures its output (parallel builds must not interleave).
pub async fn run(
    argv: &[String],
    dir: &Path,
    stdin: Option<&Secret>,
    env: &[(String, String)],
) -> std::io::Result<CommandOutput> {
    let Some((program, args)) = argv.split_first() else {
        return Err(std::io::Error::other("empty command"));
    };
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    if let (Some(secret), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(secret.expose().as_bytes()).await?;
        pipe.shutdown().await?;
    }
    let out = child.wait_with_output().await?;
    let mut log = String::from_utf8_lossy(&out.stdout).into_owned();
    log.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok(CommandOutput {
        argv: argv.to_vec(),
        success: out.status.success(),
        log,
    })
}
