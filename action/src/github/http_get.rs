//! One request, done right: status checked, retried when GitHub asks for
//! patience, the next page found in the `Link` header, the body decoded with
//! context. GETs and the POSTs of GitHub Deployments share it.

use http::Method;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

use super::GitHub;

/// A failed GitHub call. Messages never include the token.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    /// The client could not be built (a bad URL).
    #[error("GitHub client: {0}")]
    Client(String),
    /// No answer (DNS, TLS, timeout), after retries.
    #[error("GitHub API unreachable at {url}: {message}")]
    Transport {
        /// The request.
        url: String,
        /// What failed.
        message: String,
    },
    /// GitHub answered with an error status.
    #[error("GitHub API {method} {url}: HTTP {status}: {message}{hint}")]
    Status {
        /// The request's method.
        method: Method,
        /// HTTP status.
        status: u16,
        /// The request.
        url: String,
        /// GitHub's `message`, or the start of the body.
        message: String,
        /// What to check.
        hint: String,
    },
    /// The answer was not the expected JSON.
    #[error("GitHub API {method} {url}: unexpected response: {message}")]
    Decode {
        /// The request's method.
        method: Method,
        /// The request.
        url: String,
        /// What did not fit.
        message: String,
    },
    /// A `Link` header pointed away from the API (the token is not sent there).
    #[error("GitHub's next page link {0} is not on the API host; refusing to follow it")]
    ForeignLink(String),
}

/// A decoded page and the URL of the next one.
#[derive(Debug)]
pub struct Page<T> {
    /// The body.
    pub body: T,
    /// `Link: <..>; rel="next"`, if any.
    pub next: Option<String>,
}

impl GitHubError {
    /// The HTTP status, when GitHub answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            GitHubError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Which answers a request may be retried on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Retry {
    /// Reads and idempotent writes: 5xx, rate limits, transport errors.
    Always,
    /// A create: only answers that say the request was not processed (rate
    /// limits). A 5xx may have created the record; the caller looks before
    /// trying again.
    NotProcessed,
}

fn hint(method: &Method, status: u16) -> String {
    match (status, *method == Method::GET) {
        (401, _) => "; check the token (the `github-token` input or GITHUB_TOKEN)".into(),
        (403 | 404, true) => "; check the repository name and the job's `permissions:` (contents: read, pull-requests: read, deployments: read)".into(),
        (403 | 404, false) => "; check the repository name and the job's `permissions:` (deployments: write)".into(),
        (422, false) => "; GitHub refused the request body".into(),
        _ => String::new(),
    }
}

/// The `rel="next"` URL of a `Link` header.
pub(super) fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == "rel=\"next\"")
            .then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
    })
}

impl GitHub {
    /// GETs `url` (a path, or a full URL on the API host) and decodes it.
    pub(super) async fn get<T: DeserializeOwned>(&self, url: &str) -> Result<Page<T>, GitHubError> {
        self.send(Method::GET, url, None, Retry::Always).await
    }

    /// POSTs `body` to `path` and decodes the answer.
    pub(super) async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
        retry: Retry,
    ) -> Result<T, GitHubError> {
        Ok(self.send(Method::POST, path, Some(body), retry).await?.body)
    }

    #[tracing::instrument(name = "github", skip_all, fields(http.request.method = %method, url.path = %url.split('?').next().unwrap_or_default()))]
    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        body: Option<&serde_json::Value>,
        retry: Retry,
    ) -> Result<Page<T>, GitHubError> {
        let target = if url.starts_with('/') {
            url.to_string()
        } else if let Some(path) = url.strip_prefix(&self.api_url) {
            // A Link from GitHub is absolute; keep the path so the base URI applies.
            path.to_string()
        } else {
            return Err(GitHubError::ForeignLink(url.to_string()));
        };
        let mut attempt = 0;
        loop {
            let sent = if method == Method::POST {
                self.client._post(target.as_str(), body).await
            } else {
                self.client._get(target.as_str()).await
            };
            let response = match sent {
                Ok(r) => r,
                Err(e) if attempt + 1 < self.retry.attempts && retry == Retry::Always => {
                    tracing::warn!("{method} {target} failed ({e}); retrying");
                    tokio::time::sleep(self.retry.base_delay * 2u32.pow(attempt)).await;
                    attempt += 1;
                    continue;
                }
                Err(e) => {
                    return Err(GitHubError::Transport {
                        url: target,
                        message: crate::outside::chain(&e),
                    });
                }
            };
            let response_status = response.status();
            let status = response_status.as_u16();
            let headers = response.headers().clone();
            let body = response
                .into_body()
                .collect()
                .await
                .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
                .map_err(|e| GitHubError::Transport {
                    url: target.clone(),
                    message: crate::outside::chain(&e),
                })?;
            if (200..300).contains(&status) {
                let decoded = serde_json::from_str(&body).map_err(|e| GitHubError::Decode {
                    method: method.clone(),
                    url: target.clone(),
                    message: e.to_string(),
                })?;
                let next = headers
                    .get(http::header::LINK)
                    .and_then(|v| v.to_str().ok())
                    .and_then(next_link);
                return Ok(Page {
                    body: decoded,
                    next,
                });
            }
            let retryable = retry == Retry::Always || !response_status.is_server_error();
            if let Some(wait) = self
                .retry
                .delay(attempt + 1, response_status, &headers, &body)
                .filter(|_| retryable)
            {
                tracing::warn!("{method} {target}: {status}; retrying in {wait:?}");
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| {
                    v.get("message")
                        .and_then(|m| m.as_str())
                        .map(str::to_string)
                })
                .unwrap_or_else(|| crate::outside::body_detail(&body));
            return Err(GitHubError::Status {
                hint: hint(&method, status),
                method,
                status,
                url: target,
                message,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_next_link() {
        let h = r#"<https://api.github.com/repositories/1/pulls/2/files?page=2>; rel="next", <https://api.github.com/repositories/1/pulls/2/files?page=5>; rel="last""#;
        assert_eq!(
            next_link(h).as_deref(),
            Some("https://api.github.com/repositories/1/pulls/2/files?page=2")
        );
        assert_eq!(next_link(r#"<https://x/?page=1>; rel="prev""#), None);
    }
}
