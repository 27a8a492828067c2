//! The image builder: `docker buildx` or `buildah`, always run with an
//! argument vector (never a shell string), the registry password on stdin.
//!
//! The argument vectors are pure functions of a [`BuildSpec`], so they are
//! tested without a daemon; [`run`] is the thin adapter that executes one.

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
}

/// The cache tag buildx reads and writes in the image's own repository.
pub const CACHE_TAG: &str = "buildcache";

impl BuildSpec {
    fn refs(&self) -> Vec<String> {
        self.tags
            .iter()
            .map(|t| format!("{}:{t}", self.image))
            .collect()
    }

    /// Where the builder records the pushed digest.
    pub fn digest_file(&self, kind: BuilderKind) -> PathBuf {
        match kind {
            BuilderKind::Docker => self.scratch.join("metadata.json"),
            BuilderKind::Buildah => self.scratch.join("digest"),
        }
    }

    /// The auth file buildah uses (docker keeps its own config).
    pub fn auth_file(&self) -> PathBuf {
        self.scratch.join("auth.json")
    }
}

/// `docker login` / `buildah login` with `--password-stdin`.
pub fn login_argv(kind: BuilderKind, host: &str, insecure: bool, auth_file: &Path) -> Vec<String> {
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
        "AWS".into(),
        "--password-stdin".into(),
        host.into(),
    ]);
    argv
}

/// The commands that build the image and push its tags, in order.
pub fn build_argvs(kind: BuilderKind, spec: &BuildSpec) -> Vec<Vec<String>> {
    let refs = spec.refs();
    let label_args = spec
        .labels
        .iter()
        .flat_map(|(k, v)| ["--label".to_string(), format!("{k}={v}")]);
    match kind {
        BuilderKind::Docker => {
            let cache = format!("{}:{CACHE_TAG}", spec.image);
            let mut argv: Vec<String> = ["docker", "buildx", "build", "--push"]
                .map(String::from)
                .into();
            // A plain image manifest (no attestation index): one digest that
            // ECS pulls and ECR scans like any other image.
            argv.push("--provenance=false".into());
            argv.extend(["--file".into(), spec.dockerfile.clone()]);
            for r in &refs {
                argv.extend(["--tag".into(), r.clone()]);
            }
            argv.extend(label_args);
            argv.extend([
                "--cache-from".into(),
                format!("type=registry,ref={cache}"),
                "--cache-to".into(),
                // ECR needs the cache as an OCI image manifest.
                format!(
                    "type=registry,ref={cache},mode=max,image-manifest=true,oci-mediatypes=true"
                ),
                "--metadata-file".into(),
                spec.digest_file(kind).display().to_string(),
                spec.context.clone(),
            ]);
            vec![argv]
        }
        BuilderKind::Buildah => {
            let tls = spec.insecure.then(|| "--tls-verify=false".to_string());
            let mut build: Vec<String> = vec!["buildah".into(), "build".into()];
            build.extend(tls.clone());
            build.extend([
                "--authfile".into(),
                spec.auth_file().display().to_string(),
                "--layers".into(),
                "--file".into(),
                spec.dockerfile.clone(),
            ]);
            for r in &refs {
                build.extend(["--tag".into(), r.clone()]);
            }
            build.extend(label_args);
            build.push(spec.context.clone());
            let mut out = vec![build];
            // The release tag is pushed; the other tags are added to the same
            // manifest afterwards, so every tag names one digest.
            if let Some(first) = refs.first() {
                let mut push: Vec<String> = vec!["buildah".into(), "push".into()];
                push.extend(tls);
                push.extend([
                    "--authfile".into(),
                    spec.auth_file().display().to_string(),
                    "--digestfile".into(),
                    spec.digest_file(kind).display().to_string(),
                    first.clone(),
                    format!("docker://{first}"),
                ]);
                out.push(push);
            }
            out
        }
    }
}

/// Tags the builder pushes itself; the rest are added by re-tagging.
pub fn pushed_tags(kind: BuilderKind, spec: &BuildSpec) -> Vec<String> {
    match kind {
        BuilderKind::Docker => spec.tags.clone(),
        BuilderKind::Buildah => spec.tags.iter().take(1).cloned().collect(),
    }
}

/// Reads the pushed digest from what the builder wrote.
pub fn read_digest(kind: BuilderKind, text: &str) -> Option<String> {
    let digest = match kind {
        BuilderKind::Docker => serde_json::from_str::<serde_json::Value>(text)
            .ok()?
            .get("containerimage.digest")?
            .as_str()?
            .to_string(),
        BuilderKind::Buildah => text.trim().to_string(),
    };
    (digest.starts_with("sha256:") && digest.len() == 71).then_some(digest)
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
) -> std::io::Result<CommandOutput> {
    let Some((program, args)) = argv.split_first() else {
        return Err(std::io::Error::other("empty command"));
    };
    let mut child = tokio::process::Command::new(program)
        .args(args)
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
