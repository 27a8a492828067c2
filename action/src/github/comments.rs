//! Pull request comments found by a hidden marker, created or edited in place.
//!
//! Shared by `plan-comment` and `deploy`. Requests go through octocrab's raw
//! methods so that this module sees status and headers (for retries and
//! pagination), and edits are sent as `PATCH /repos/{o}/{r}/issues/comments/{id}`
//! explicitly (octocrab 0.54's `update_comment` sends POST, which GitHub's
//! OpenAPI description does not allow).

use http::{HeaderMap, Method};
use octocrab::Octocrab;
use serde::Deserialize;
use serde_json::{Value, json};

use super::GitHubError;
use super::retry::RetryPolicy;
use crate::trust::{self, Author, TrustedAuthors};

/// Comments per page when listing (GitHub's maximum).
const PER_PAGE: usize = 100;
/// Stop listing after this many pages (10,000 comments).
const MAX_PAGES: usize = 100;

/// The pull request (or issue) whose comments are managed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRef {
    /// Repository owner.
    pub owner: String,
    /// Repository name.
    pub repo: String,
    /// Pull request or issue number.
    pub number: u64,
}

/// The parts of a comment Ferry reads.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Comment {
    /// Comment ID, used to edit or delete it.
    pub id: u64,
    /// Markdown body.
    #[serde(default)]
    pub body: Option<String>,
    /// Link to the comment.
    #[serde(default)]
    pub html_url: Option<String>,
    /// Who wrote it (an edit by someone else keeps the author: see
    /// `updated_at`).
    #[serde(default)]
    pub user: Option<Author>,
    /// When it was last written, RFC 3339.
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// What an upsert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upserted {
    /// No comment carried the marker: a new one was posted.
    Created(Comment),
    /// The marked comment was edited.
    Updated(Comment),
    /// The marked comment already had this body: nothing was sent.
    Unchanged(Comment),
}

/// A GitHub client bound to one issue, with a retry policy.
#[derive(Debug, Clone, Copy)]
pub struct Comments<'a> {
    crab: &'a Octocrab,
    issue: &'a IssueRef,
    retry: RetryPolicy,
    trusted: &'a TrustedAuthors,
}

impl<'a> Comments<'a> {
    /// Binds a client (built with any base URI) to an issue; only comments
    /// by `trusted` authors are ever found, edited or deleted by marker.
    pub fn new(
        crab: &'a Octocrab,
        issue: &'a IssueRef,
        retry: RetryPolicy,
        trusted: &'a TrustedAuthors,
    ) -> Self {
        Comments {
            crab,
            issue,
            retry,
            trusted,
        }
    }

    fn issue_path(&self) -> String {
        format!(
            "/repos/{}/{}/issues/{}",
            self.issue.owner, self.issue.repo, self.issue.number
        )
    }

    fn comment_path(&self, id: u64) -> String {
        format!(
            "/repos/{}/{}/issues/comments/{id}",
            self.issue.owner, self.issue.repo
        )
    }

    /// Lists every comment of the issue, page by page.
    pub async fn list(&self) -> Result<Vec<Comment>, GitHubError> {
        let mut all = Vec::new();
        for page in 1..=MAX_PAGES {
            let (comments, more) = self.list_page(page).await?;
            all.extend(comments);
            if !more {
                break;
            }
        }
        Ok(all)
    }

    /// One page of comments (1-based), and whether another page follows.
    ///
    /// The next page is requested by number on the same path rather than by
    /// following the `Link` URL, which GitHub writes with its own host and a
    /// `/repositories/{id}/...` path: the configured base URI (GHES, a test
    /// server) stays in charge. A page is the last when it is not full or
    /// when a `Link` header has no `rel="next"`.
    pub async fn list_page(&self, page: usize) -> Result<(Vec<Comment>, bool), GitHubError> {
        let path = format!(
            "{}/comments?per_page={PER_PAGE}&page={page}",
            self.issue_path()
        );
        let (headers, body) = send(self.crab, self.retry, Method::GET, &path, None).await?;
        let comments: Vec<Comment> = decode(&Method::GET, &path, &body)?;
        let more =
            comments.len() >= PER_PAGE && (!headers.contains_key("link") || has_next(&headers));
        Ok((comments, more))
    }

    /// The first comment whose first line is `marker` and whose author is
    /// trusted: the one way Ferry reads a comment of its own back. A marked
    /// comment by anyone else is named in a warning and never returned, so
    /// never believed nor edited.
    pub async fn find(&self, marker: &str) -> Result<Option<Comment>, GitHubError> {
        Ok(find_trusted(self.list().await?, marker, self.trusted))
    }

    /// Posts a new comment.
    pub async fn create(&self, body: &str) -> Result<Comment, GitHubError> {
        let path = format!("{}/comments", self.issue_path());
        let (_, text) = send(
            self.crab,
            self.retry,
            Method::POST,
            &path,
            Some(&json!({ "body": body })),
        )
        .await?;
        decode(&Method::POST, &path, &text)
    }

    /// Edits a comment with `PATCH`.
    pub async fn update(&self, id: u64, body: &str) -> Result<Comment, GitHubError> {
        let path = self.comment_path(id);
        let (_, text) = send(
            self.crab,
            self.retry,
            Method::PATCH,
            &path,
            Some(&json!({ "body": body })),
        )
        .await?;
        decode(&Method::PATCH, &path, &text)
    }

    /// Deletes a comment.
    pub async fn delete(&self, id: u64) -> Result<(), GitHubError> {
        send(
            self.crab,
            self.retry,
            Method::DELETE,
            &self.comment_path(id),
            None,
        )
        .await?;
        Ok(())
    }

    /// Edits the comment carrying `marker`, or creates it.
    pub async fn upsert(&self, marker: &str, body: &str) -> Result<Upserted, GitHubError> {
        match self.find(marker).await? {
            Some(c) if c.body.as_deref() == Some(body) => Ok(Upserted::Unchanged(c)),
            Some(c) => Ok(Upserted::Updated(self.update(c.id, body).await?)),
            None => Ok(Upserted::Created(self.create(body).await?)),
        }
    }

    /// Deletes the comment carrying `marker`, if any; returns whether one was.
    pub async fn remove(&self, marker: &str) -> Result<bool, GitHubError> {
        match self.find(marker).await? {
            Some(c) => self.delete(c.id).await.map(|()| true),
            None => Ok(false),
        }
    }

    /// Adds labels to the issue.
    pub async fn add_labels(&self, labels: &[String]) -> Result<(), GitHubError> {
        let path = format!("{}/labels", self.issue_path());
        send(
            self.crab,
            self.retry,
            Method::POST,
            &path,
            Some(&json!({ "labels": labels })),
        )
        .await?;
        Ok(())
    }

    /// Removes a label from the issue; a label that is not there is fine.
    pub async fn remove_label(&self, label: &str) -> Result<(), GitHubError> {
        let path = format!("{}/labels/{}", self.issue_path(), encode_segment(label));
        match send(self.crab, self.retry, Method::DELETE, &path, None).await {
            Err(e) if e.status() == Some(404) => Ok(()),
            other => other.map(|_| ()),
        }
    }
}

/// The first comment carrying `marker` by a trusted author; the marked ones
/// by others (before or after it) are warned about and passed over.
pub fn find_trusted(
    comments: Vec<Comment>,
    marker: &str,
    trusted: &TrustedAuthors,
) -> Option<Comment> {
    let mut found = None;
    for c in comments {
        if !c.body.as_deref().is_some_and(|b| is_marked(b, marker)) {
            continue;
        }
        if !trusted.trusts(c.user.as_ref()) {
            trust::warn_ignored(&format!("comment {}", c.id), c.user.as_ref(), trusted);
        } else if found.is_none() {
            found = Some(c);
        }
    }
    found
}

/// `true` when the body's first line is the marker (a quoting reply is not).
pub fn is_marked(body: &str, marker: &str) -> bool {
    body.trim_start()
        .lines()
        .next()
        .is_some_and(|l| l.trim() == marker)
}

/// Sends one request with retries; returns headers and body of a 2xx answer.
pub(crate) async fn send(
    crab: &Octocrab,
    retry: RetryPolicy,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Result<(HeaderMap, String), GitHubError> {
    let mut attempt = 1;
    loop {
        let transport = |source: octocrab::Error| GitHubError::Transport {
            url: format!("{method} {path}"),
            message: source.to_string(),
        };
        let response = match method {
            Method::GET => crab._get(path).await,
            Method::POST => crab._post(path, body).await,
            Method::PATCH => crab._patch(path, body).await,
            _ => crab._delete(path, body).await,
        }
        .map_err(transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = super::http_get::read_body(response.into_body(), path).await?;
        if status.is_success() {
            return Ok((headers, text));
        }
        match retry.delay(attempt, status, &headers, &text) {
            Some(delay) => {
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            None => {
                let message = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
                    .unwrap_or_else(|| text.chars().take(200).collect());
                let hint = match status.as_u16() {
                    401 => " (check the token)",
                    403 | 404 => {
                        " (the token needs `pull-requests: write` and `issues: write` on this repository)"
                    }
                    422 if path.ends_with("comments") || path.contains("/comments/") => {
                        " (GitHub refused the body)"
                    }
                    _ => "",
                };
                return Err(GitHubError::Status {
                    method,
                    status: status.as_u16(),
                    url: path.to_string(),
                    message,
                    hint: hint.to_string(),
                });
            }
        }
    }
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    method: &Method,
    path: &str,
    text: &str,
) -> Result<T, GitHubError> {
    serde_json::from_str(text).map_err(|e| GitHubError::Decode {
        method: method.clone(),
        url: path.to_string(),
        message: e.to_string(),
    })
}

/// Whether a `Link` header has a `rel="next"` entry.
fn has_next(headers: &HeaderMap) -> bool {
    headers
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|part| part.split(';').skip(1).any(|p| p.trim() == "rel=\"next\""))
}

fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn reads_next_links_and_encodes_label_names() {
        let mut h = HeaderMap::new();
        h.insert(
            "link",
            HeaderValue::from_static(
                "<https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=2>; rel=\"next\", <https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=5>; rel=\"last\"",
            ),
        );
        assert!(has_next(&h));
        h.insert(
            "link",
            HeaderValue::from_static("<https://x/?page=1>; rel=\"first\""),
        );
        assert!(!has_next(&h));
        assert_eq!(
            encode_segment("terraform:prod:destroy"),
            "terraform:prod:destroy"
        );
        assert_eq!(encode_segment("a b/c"), "a%20b%2Fc");
    }
}
