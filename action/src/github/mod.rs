//! The GitHub adapter: REST calls through octocrab, against any API base URL
//! (github.com, GitHub Enterprise Server, or a local stand-in in tests).
//!
//! Only what the pipeline needs, as typed results: a PR's changed files, a
//! comparison's files, and the release history in GitHub Deployments. Every
//! request is retried on 5xx and rate limits, and paginated by `Link`.

pub mod comments;
pub mod commits;
pub mod deployments;
mod http_get;
pub mod retry;
/// Whose records Ferry believes lives in the shared model ([`crate::trust`]),
/// so the runner context can read the input without importing this adapter;
/// this path stays for code written against it.
pub use crate::trust;

use std::time::Duration;

use octocrab::Octocrab;
use octocrab::service::middleware::retry::RetryConfig;
use serde::Deserialize;

use crate::gha::{RepoSlug, Secret};
use crate::git::{ChangeKind, FileChange};
pub use http_get::{GitHubError, Page};

/// GitHub's cap on a pull request's file list.
pub const PR_FILES_LIMIT: usize = 3000;
/// GitHub's cap on a comparison's file list.
pub const COMPARE_FILES_LIMIT: usize = 300;

/// A client for one repository.
#[derive(Debug, Clone)]
pub struct GitHub {
    client: Octocrab,
    repo: RepoSlug,
    api_url: String,
    /// When and how often to retry (5xx, rate limits).
    pub retry: retry::RetryPolicy,
    /// Whose records are believed when read back (comments, Deployments,
    /// statuses): every reader of this client filters through it.
    trusted: trust::TrustedAuthors,
}

impl GitHub {
    /// A client for `repo` at `api_url`, authenticated with `token` if given.
    pub fn new(api_url: &str, token: Option<&Secret>, repo: RepoSlug) -> Result<Self, GitHubError> {
        Ok(Self {
            client: client(api_url, token)?,
            repo,
            api_url: api_url.trim_end_matches('/').to_string(),
            retry: retry::RetryPolicy::default(),
            trusted: trust::TrustedAuthors::default(),
        })
    }

    /// This client, believing records by `trusted` only (the default:
    /// `github-actions[bot]`).
    pub fn with_trusted(mut self, trusted: trust::TrustedAuthors) -> Self {
        self.trusted = trusted;
        self
    }

    /// Whose records this client believes.
    pub fn trusted(&self) -> &trust::TrustedAuthors {
        &self.trusted
    }

    /// The run's client, when it has a token and a repository (and a usable
    /// API URL): the commands that can work without GitHub take `None`.
    pub fn from_context(ctx: &crate::gha::Context) -> Option<Self> {
        let repo = ctx.repository.clone()?;
        let token = ctx.token.as_ref()?;
        Self::new(&ctx.api_url, Some(token), repo)
            .ok()
            .map(|gh| gh.with_trusted(ctx.trusted_authors.clone()))
    }

    /// The repository this client works on.
    pub fn repo(&self) -> &RepoSlug {
        &self.repo
    }

    /// The pull request comments of issue `issue`, through this client.
    pub fn comments<'a>(&'a self, issue: &'a comments::IssueRef) -> comments::Comments<'a> {
        comments::Comments::new(&self.client, issue, self.retry, &self.trusted)
    }

    /// Every page of a list endpoint, up to `max_items` items.
    async fn list<T: serde::de::DeserializeOwned>(
        &self,
        first: String,
        max_items: usize,
    ) -> Result<Vec<T>, GitHubError> {
        let mut out = Vec::new();
        let mut listing = Listing::new(first, max_items);
        while let Some(page) = listing.next_page(self).await? {
            out.extend(page);
        }
        Ok(out)
    }

    /// The files a pull request changes (GitHub lists at most 3,000). The
    /// caller compares the count with the PR's `changed_files` to notice a
    /// truncated list.
    /// Returns the changes (a rename gives two) and how many entries GitHub listed.
    pub async fn pull_request_files(
        &self,
        number: u64,
    ) -> Result<(Vec<FileChange>, usize), GitHubError> {
        let url = format!(
            "/repos/{}/{}/pulls/{number}/files?per_page=100",
            self.repo.owner, self.repo.name
        );
        let files: Vec<ApiFile> = self.list(url, PR_FILES_LIMIT).await?;
        let listed = files.len();
        Ok((expand(files), listed))
    }

    /// The files changed between `base` and `head` (three-dot: since their
    /// merge base). `complete` is false when GitHub's 300-file cap was hit.
    pub async fn compare_files(&self, base: &str, head: &str) -> Result<CompareFiles, GitHubError> {
        let url = format!(
            "/repos/{}/{}/compare/{base}...{head}?per_page=100",
            self.repo.owner, self.repo.name
        );
        // Files are only on the first page; later pages hold more commits.
        let page: Page<ApiCompare> = self.get(&url).await?;
        let count = page.body.files.len();
        Ok(CompareFiles {
            files: expand(page.body.files),
            complete: count < COMPARE_FILES_LIMIT,
        })
    }
}

/// One listing's pages, read so that it always ends: at most
/// [`crate::budget::Budget::github_pages`] pages and `max_items` items (a
/// page holding more is cut), and no further after an empty page, a page
/// without a `Link` to the next, or a next URL already read. Each `Link` is
/// checked by [`GitHub::get`] (the API's own scheme, host and port only).
#[derive(Debug)]
pub(crate) struct Listing {
    next: Option<String>,
    seen: std::collections::HashSet<String>,
    pages_left: usize,
    items_left: usize,
}

impl Listing {
    /// A listing starting at `first`, of at most `max_items` items.
    pub(crate) fn new(first: String, max_items: usize) -> Self {
        Self {
            next: Some(first),
            seen: std::collections::HashSet::new(),
            pages_left: crate::budget::current().github_pages,
            items_left: max_items,
        }
    }

    /// The next page's items, or `None` when the listing has ended.
    pub(crate) async fn next_page<T: serde::de::DeserializeOwned>(
        &mut self,
        gh: &GitHub,
    ) -> Result<Option<Vec<T>>, GitHubError> {
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        // The same page however written (a path, or a Link's absolute URL).
        let key = if url.starts_with('/') {
            url.clone()
        } else {
            http_get::own_path(&gh.api_url, &url).unwrap_or_else(|| url.clone())
        };
        if self.items_left == 0 || !self.seen.insert(key) {
            return Ok(None);
        }
        if self.pages_left == 0 {
            tracing::warn!(
                "a GitHub listing stopped after {} pages ({}); later pages are not read",
                self.seen.len() - 1,
                crate::budget::GITHUB_PAGES_VAR
            );
            return Ok(None);
        }
        self.pages_left -= 1;
        let page: Page<Vec<T>> = gh.get(&url).await?;
        let mut items = page.body;
        items.truncate(self.items_left);
        self.items_left -= items.len();
        if !items.is_empty() {
            self.next = page.next;
        }
        Ok(Some(items))
    }

    /// Ends the listing: no further page is read.
    pub(crate) fn stop(&mut self) {
        self.next = None;
    }
}

/// The one octocrab client constructor: `api_url` (github.com, GitHub
/// Enterprise Server, a stand-in), authenticated with `token` if given, with
/// connect and read timeouts, and octocrab's own retries off — Ferry's
/// retry ([`retry`]) sees statuses and headers (Retry-After), and must not
/// repeat a create that may have been processed.
pub fn client(api_url: &str, token: Option<&Secret>) -> Result<Octocrab, GitHubError> {
    let mut builder = Octocrab::builder()
        .base_uri(api_url)
        .map_err(|e| GitHubError::Client(format!("bad API URL {api_url}: {e}")))?
        .set_connect_timeout(Some(Duration::from_secs(10)))
        .set_read_timeout(Some(Duration::from_secs(30)))
        .add_retry_config(RetryConfig::None);
    if let Some(t) = token {
        builder = builder.personal_token(t.expose().to_string());
    }
    builder
        .build()
        .map_err(|e| GitHubError::Client(e.to_string()))
}

/// Percent-encodes a query value.
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A comparison's file list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompareFiles {
    /// The files.
    pub files: Vec<FileChange>,
    /// False when the list may be cut short.
    pub complete: bool,
}

#[derive(Debug, Deserialize)]
struct ApiFile {
    filename: String,
    status: String,
    previous_filename: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ApiCompare {
    #[serde(default)]
    files: Vec<ApiFile>,
}

/// API files as Ferry's changes; a rename yields both paths, like git's `--no-renames`.
fn expand(files: Vec<ApiFile>) -> Vec<FileChange> {
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        let kind = match f.status.as_str() {
            "added" | "copied" => ChangeKind::Added,
            "removed" => ChangeKind::Deleted,
            "renamed" => ChangeKind::Added,
            _ => ChangeKind::Modified,
        };
        if f.status == "renamed"
            && let Some(old) = f.previous_filename
        {
            out.push(FileChange {
                path: old,
                kind: ChangeKind::Deleted,
            });
        }
        out.push(FileChange {
            path: f.filename,
            kind,
        });
    }
    out
}
