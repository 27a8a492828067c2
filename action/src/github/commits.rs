//! The repository's commits and branches as GitHub answers them: the pull
//! requests a commit belongs to, the merge queue's entries, a commit's
//! parent, and a comparison of two commits.

use serde::Deserialize;

use super::{GitHub, GitHubError, Page, encode};

/// How many pull requests of one commit are read.
const PULLS_MAX: usize = 1000;

#[derive(Debug, Deserialize)]
struct ApiPull {
    number: u64,
}

impl GitHub {
    /// The pull requests (open and merged) a commit belongs to.
    pub async fn pulls_for_commit(&self, sha: &str) -> Result<Vec<u64>, GitHubError> {
        let url = format!(
            "/repos/{}/{}/commits/{}/pulls?per_page=100",
            self.repo.owner,
            self.repo.name,
            encode(sha)
        );
        let pulls: Vec<ApiPull> = self.list(url, PULLS_MAX).await?;
        let mut numbers: Vec<u64> = pulls.into_iter().map(|p| p.number).collect();
        numbers.dedup();
        Ok(numbers)
    }

    /// The merge queue's branches for `base` (`refs/heads/gh-readonly-queue/<base>/pr-<N>-<sha>`),
    /// each with the commit it points at: the queue's entries, which only
    /// GitHub creates.
    pub async fn queue_refs(&self, base: &str) -> Result<Vec<(String, String)>, GitHubError> {
        // The ref is one path parameter, its slashes encoded (as Octokit
        // sends it; GitHub decodes them).
        let url = format!(
            "/repos/{}/{}/git/matching-refs/{}?per_page=100",
            self.repo.owner,
            self.repo.name,
            encode(&format!("heads/gh-readonly-queue/{base}/pr-"))
        );
        let refs: Vec<ApiRef> = self.list(url, QUEUE_REFS_MAX).await?;
        Ok(refs
            .into_iter()
            .filter_map(|r| r.object.sha.map(|sha| (r.r#ref, sha)))
            .collect())
    }

    /// The commits `head` has that `base` has not: their count, and the
    /// author dates of the first (oldest) 100, in one request.
    pub async fn compare_commits(
        &self,
        base: &str,
        head: &str,
    ) -> Result<CompareCommits, GitHubError> {
        let url = format!(
            "/repos/{}/{}/compare/{}...{}?per_page=100",
            self.repo.owner,
            self.repo.name,
            encode(base),
            encode(head)
        );
        let page: Page<ApiCompareCommits> = self.get(&url).await?;
        Ok(CompareCommits {
            total_commits: page.body.total_commits,
            author_dates: page
                .body
                .commits
                .iter()
                .filter_map(|c| c.commit.author.as_ref())
                .filter_map(|a| crate::time::parse_time(&a.date))
                .collect(),
        })
    }
}

impl GitHub {
    /// The first parent of commit `sha` (`None` for a root commit).
    pub async fn first_parent(&self, sha: &str) -> Result<Option<String>, GitHubError> {
        let url = format!(
            "/repos/{}/{}/git/commits/{}",
            self.repo.owner,
            self.repo.name,
            encode(sha)
        );
        let page: Page<ApiParents> = self.get(&url).await?;
        Ok(page.body.parents.into_iter().next().map(|p| p.sha))
    }
}

#[derive(Deserialize)]
struct ApiParents {
    #[serde(default)]
    parents: Vec<ApiParent>,
}

#[derive(Deserialize)]
struct ApiParent {
    sha: String,
}

/// At most this many queue entries are read (GitHub's merge queue builds
/// groups of at most 100).
const QUEUE_REFS_MAX: usize = 1000;

#[derive(Deserialize)]
struct ApiRef {
    #[serde(rename = "ref")]
    r#ref: String,
    object: ApiRefObject,
}

#[derive(Deserialize)]
struct ApiRefObject {
    #[serde(default)]
    sha: Option<String>,
}

/// The commits a comparison lists on its first page (GitHub lists them
/// oldest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompareCommits {
    /// How many commits `head` has that `base` has not.
    pub total_commits: u64,
    /// The author dates of the commits listed, seconds since the epoch.
    pub author_dates: Vec<u64>,
}

#[derive(Debug, Deserialize)]
struct ApiCompareCommits {
    #[serde(default)]
    total_commits: u64,
    #[serde(default)]
    commits: Vec<ApiCompareCommit>,
}

#[derive(Debug, Deserialize)]
struct ApiCompareCommit {
    commit: ApiGitCommit,
}

#[derive(Debug, Deserialize)]
struct ApiGitCommit {
    author: Option<ApiGitAuthor>,
}

#[derive(Debug, Deserialize)]
struct ApiGitAuthor {
    #[serde(default)]
    date: String,
}
