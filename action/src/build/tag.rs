//! Image tags and labels: pure functions of a build's inputs.
//!
//! Two tags per image. The release tag (`<service>-<sha7>-<UTC
//! yyyymmddHHMMSS>` by default) names one pipeline run and is what people
//! read. The content tag names what went into the image: a hash of the
//! service's source files (their git blob ids), the Cargo.lock packages its
//! crate depends on, and the build settings. Equal content tags mean an
//! image can be reused instead of rebuilt.

use std::time::SystemTime;

use sha2::{Digest, Sha256};

/// Bumped when the hash's recipe changes, so old content tags stop matching.
const RECIPE: &str = "ferry-content-v1";

/// Docker's limit on a tag's length.
const MAX_TAG: usize = 128;

/// Everything a content tag covers, already selected (see `inputs`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentInputs {
    /// `(path, mode, blob id)` of each source file of the service.
    pub files: Vec<(String, String, String)>,
    /// `name version source` of each Cargo.lock package of its crate.
    pub packages: Vec<String>,
    /// Build settings that change the image: `(name, value)`.
    pub settings: Vec<(String, String)>,
}

/// The hex SHA-256 of the inputs, independent of their order.
pub fn content_digest(inputs: &ContentInputs) -> String {
    let mut files = inputs.files.clone();
    files.sort();
    files.dedup();
    let mut packages = inputs.packages.clone();
    packages.sort();
    packages.dedup();
    let mut settings = inputs.settings.clone();
    settings.sort();
    let mut h = Sha256::new();
    h.update(RECIPE.as_bytes());
    // Each record is NUL-terminated and each section announced, so no two
    // different input sets serialise to the same bytes.
    h.update(b"\0files\0");
    for (path, mode, blob) in &files {
        h.update(format!("{mode} {blob} {path}\0").as_bytes());
    }
    h.update(b"\0packages\0");
    for p in &packages {
        h.update(format!("{p}\0").as_bytes());
    }
    h.update(b"\0settings\0");
    for (k, v) in &settings {
        h.update(format!("{k}={v}\0").as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The content tag: `<service>-content-<first 24 hex digits>` (96 bits).
pub fn content_tag(service: &str, digest: &str) -> String {
    let short = digest.get(..24).unwrap_or(digest);
    fit(&format!("{service}-content-{short}"))
}

/// The values a release tag template expands.
#[derive(Debug, Clone, Copy)]
pub struct TagVars<'a> {
    /// `{service}`
    pub service: &'a str,
    /// `{project}`
    pub project: &'a str,
    /// `{sha}`: the full commit id (`{sha7}` is its first 7 characters).
    pub sha: &'a str,
    /// `{timestamp}`: UTC `yyyymmddHHMMSS`.
    pub timestamp: &'a str,
}

/// A release tag that is not a valid image tag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the tag template \"{template}\" gives \"{tag}\", which is not a valid image tag (letters, digits, `_`, `.`, `-`; at most 128; not starting with `.` or `-`)\n  help: change build.tag in the manifest"
)]
pub struct TagError {
    /// The template.
    pub template: String,
    /// What it expanded to.
    pub tag: String,
}

/// Expands the release tag template (placeholders were checked when the
/// manifest loaded).
pub fn release_tag(template: &str, vars: TagVars<'_>) -> Result<String, TagError> {
    let sha7 = vars.sha.get(..7).unwrap_or(vars.sha);
    let tag = crate::manifest::template::expand(template, |name| match name {
        "service" => Some(vars.service),
        "project" => Some(vars.project),
        "sha7" => Some(sha7),
        "sha" => Some(vars.sha),
        "timestamp" => Some(vars.timestamp),
        _ => None,
    });
    if valid_tag(&tag) {
        Ok(tag)
    } else {
        Err(TagError {
            template: template.into(),
            tag,
        })
    }
}

/// Docker's tag grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    tag.len() <= MAX_TAG
        && (first.is_ascii_alphanumeric() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn fit(tag: &str) -> String {
    let cleaned: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    // Keep the hash (the end) when a long service name would overflow.
    let start = cleaned.len().saturating_sub(MAX_TAG);
    cleaned[start..].trim_start_matches(['.', '-']).to_string()
}

/// UTC `yyyymmddHHMMSS` of a point in time ([`crate::time::utc_stamp`]).
pub fn utc_stamp(at: SystemTime) -> String {
    crate::time::utc_stamp(crate::time::epoch_secs(at))
}

/// RFC 3339 UTC (`2026-11-25T22:26:35Z`), for the `created` label.
pub fn rfc3339(at: SystemTime) -> String {
    crate::time::rfc3339(crate::time::epoch_secs(at))
}

/// What the OCI labels say about an image.
#[derive(Debug, Clone, Copy)]
pub struct LabelVars<'a> {
    /// Repository URL (`https://github.com/owner/name`), if known.
    pub source: Option<&'a str>,
    /// The commit.
    pub revision: &'a str,
    /// RFC 3339 build time.
    pub created: &'a str,
    /// The service.
    pub service: &'a str,
    /// The release tag.
    pub version: &'a str,
    /// The content tag.
    pub content: &'a str,
}

/// OCI image labels (`org.opencontainers.image.*`) plus Ferry's own.
pub fn labels(v: LabelVars<'_>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(source) = v.source {
        out.push(("org.opencontainers.image.source".into(), source.into()));
    }
    out.push((
        "org.opencontainers.image.revision".into(),
        v.revision.into(),
    ));
    out.push(("org.opencontainers.image.created".into(), v.created.into()));
    out.push(("org.opencontainers.image.title".into(), v.service.into()));
    out.push(("org.opencontainers.image.version".into(), v.version.into()));
    out.push(("dev.ferry.service".into(), v.service.into()));
    out.push(("dev.ferry.content".into(), v.content.into()));
    out
}
