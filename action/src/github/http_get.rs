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
    /// An answer larger than [`crate::budget::Budget::github_page_bytes`].
    #[error(
        "GitHub API {url}: the answer is larger than {} ({}); GitHub's pages are far smaller, so this is not GitHub or it misbehaves",
        crate::budget::show_bytes(*.limit as u64),
        crate::budget::GITHUB_PAGE_BYTES_VAR
    )]
    TooLarge {
        /// The request.
        url: String,
        /// The limit.
        limit: usize,
    },
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

/// Where a `Link` URL leads, as a path (and query) under the API's base
/// URL `api_url`: only when, once parsed, its scheme, host and port are the
/// API's own, it has no userinfo, and its path is under the API's. Anything
/// else (another host or port, `user@`, `http://api:P@other:Q`, a relative
/// or scheme-relative URL, control characters) is `None`.
pub(super) fn own_path(api_url: &str, link: &str) -> Option<String> {
    if link
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return None;
    }
    let api: http::Uri = api_url.parse().ok()?;
    let uri: http::Uri = link.parse().ok()?;
    let (api_auth, auth) = (api.authority()?, uri.authority()?);
    if auth.as_str().contains('@') || api_auth.as_str().contains('@') {
        return None;
    }
    let default_port = |scheme: &str| match scheme {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    };
    let (api_scheme, scheme) = (api.scheme_str()?, uri.scheme_str()?);
    let same = scheme.eq_ignore_ascii_case(api_scheme)
        && auth.host().eq_ignore_ascii_case(api_auth.host())
        && auth.port_u16().or(default_port(scheme))
            == api_auth.port_u16().or(default_port(api_scheme));
    if !same {
        return None;
    }
    let base = api.path().trim_end_matches('/');
    let rest = uri.path().strip_prefix(base)?;
    if !rest.starts_with('/') {
        return None;
    }
    Some(match uri.query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    })
}

/// Reads a response body, at most [`crate::budget::Budget::github_page_bytes`].
pub(super) async fn read_body<B>(body: B, url: &str) -> Result<String, GitHubError>
where
    B: hyper::body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let limit = crate::budget::current().github_page_bytes;
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(b) => Ok(String::from_utf8_lossy(&b.to_bytes()).into_owned()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(GitHubError::TooLarge {
            url: url.to_string(),
            limit,
        }),
        Err(e) => Err(GitHubError::Transport {
            url: url.to_string(),
            message: crate::outside::chain(&*e),
        }),
    }
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
        let target = if url.starts_with('/') && !url.starts_with("//") {
            url.to_string()
        } else if let Some(path) = own_path(&self.api_url, url) {
            // A Link from GitHub is absolute; keep the path so the base URI applies.
            path
        } else {
            // A header value is visible ASCII (`to_str`): shown as is, cut.
            return Err(GitHubError::ForeignLink(crate::text::truncate_chars(
                url, 200,
            )));
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
            let body = read_body(response.into_body(), &target).await?;
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
    use proptest::prelude::*;

    #[test]
    fn links_are_followed_only_on_the_apis_own_origin() {
        let api = "http://127.0.0.1:8080";
        let ok = |l: &str| own_path(api, l);
        assert_eq!(
            ok("http://127.0.0.1:8080/repos/o/r/deployments?page=2").as_deref(),
            Some("/repos/o/r/deployments?page=2")
        );
        for bad in [
            "http://127.0.0.1:8080@127.0.0.1:9090/",
            "http://127.0.0.1:8080@127.0.0.1:9090/repos/o/r/deployments?page=2",
            "http://user@127.0.0.1:8080/repos/o/r",
            "http://127.0.0.1:9090/repos/o/r",
            "https://127.0.0.1:8080/repos/o/r",
            "http://127.0.0.1:8080\\@127.0.0.1:9090/",
            "//127.0.0.1:8080/repos/o/r",
            "/repos/o/r",
            "http://127.0.0.1:8080/repos/o/r\n",
            "http://127.0.0.1.evil:8080/repos/o/r",
        ] {
            assert_eq!(ok(bad), None, "{bad}");
        }
        // GitHub Enterprise Server: under the API's path only; default ports.
        let ghes = "https://ghe.example.com/api/v3";
        assert_eq!(
            own_path(ghes, "https://ghe.example.com:443/api/v3/repos/o/r?page=2").as_deref(),
            Some("/repos/o/r?page=2")
        );
        assert_eq!(own_path(ghes, "https://ghe.example.com/repos/o/r"), None);
        assert_eq!(
            own_path(ghes, "https://ghe.example.com/api/v30/repos"),
            None
        );
    }

    proptest! {
        /// A Link built from parts is followed exactly when its scheme,
        /// host and port (defaults applied) are the API's, it has no
        /// userinfo, and its path is under the API's path.
        #[test]
        fn the_link_rule(
            scheme in prop_oneof![Just("http"), Just("https")],
            user in proptest::option::of(prop_oneof![
                Just("user".to_string()),
                Just("127.0.0.1:8080".to_string()),
                Just("api.github.com".to_string()),
                "[a-z0-9:.]{1,12}",
            ]),
            host in prop_oneof![Just("api.github.com"), Just("127.0.0.1"), Just("evil.example"), Just("api.github.com.evil")],
            port in proptest::option::of(prop_oneof![Just(80u16), Just(443u16), Just(8080u16), 1u16..65535]),
            base in prop_oneof![Just(""), Just("/api/v3")],
            prefix in prop_oneof![Just(""), Just("/api/v3"), Just("/api"), Just("/api/v30")],
            path in "(/[a-z0-9@._-]{1,8}){0,4}",
            query in proptest::option::of("[a-z0-9=&]{1,12}"),
        ) {
            let api = format!("https://api.github.com:443{base}");
            let authority = match (&user, port) {
                (Some(u), Some(p)) => format!("{u}@{host}:{p}"),
                (Some(u), None) => format!("{u}@{host}"),
                (None, Some(p)) => format!("{host}:{p}"),
                (None, None) => host.to_string(),
            };
            let path = if path.is_empty() { "/".to_string() } else { path };
            let full_path = format!("{prefix}{path}");
            let link = match &query {
                Some(q) => format!("{scheme}://{authority}{full_path}?{q}"),
                None => format!("{scheme}://{authority}{full_path}"),
            };
            let effective = port.unwrap_or(if scheme == "https" { 443 } else { 80 });
            let under = full_path.strip_prefix(base).filter(|r| r.starts_with('/'));
            let expected = (scheme == "https" && user.is_none() && host == "api.github.com" && effective == 443)
                .then_some(under)
                .flatten()
                .map(|r| match &query {
                    Some(q) => format!("{r}?{q}"),
                    None => r.to_string(),
                });
            prop_assert_eq!(own_path(&api, &link), expected, "{}", link);
        }
    }

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
