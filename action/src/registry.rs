//! Any OCI registry through its own HTTP API (OCI distribution / Docker
//! Registry v2): read a manifest by tag or digest, add a tag to it, and the
//! credentials workflows already hold for it.
//!
//! ECR is one registry among others: [`is_ecr_host`] decides when its login
//! (`GetAuthorizationToken`) and API are used; everywhere else the
//! credentials come from the Docker config file `docker/login-action` leaves
//! ([`from_docker_config`]) or from the `registry-username` /
//! `registry-token` inputs, and content-tag reuse goes through this client.
//! A registry asking for a token (`WWW-Authenticate: Bearer`, GHCR, Docker
//! Hub) gets one from its realm; one asking for `Basic` gets the login.

use std::path::PathBuf;
use std::sync::Mutex;

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use sha2::{Digest, Sha256};

use crate::aws::ecr::Image;
use crate::gha::Secret;

const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// A manifest or token answer bigger than this is refused (hostile server).
const MAX_BODY: usize = 4 << 20;

/// Whether `host` is an ECR registry (`<account>.dkr.ecr.<region>.amazonaws.com`,
/// `.com.cn` in China): the only hosts Ferry logs in to through AWS.
pub fn is_ecr_host(host: &str) -> bool {
    let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
    let rest = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"));
    let Some(rest) = rest else {
        return false;
    };
    let parts: Vec<&str> = rest.split('.').collect();
    matches!(
        parts.as_slice(),
        [account, "dkr", ecr, region]
            if account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && (*ecr == "ecr" || *ecr == "ecr-fips")
                && !region.is_empty()
                && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    )
}

/// A registry login: a user name and a password or token (never logged).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or token.
    pub password: Secret,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ***)", self.username)
    }
}

impl Credentials {
    /// `base64(user:password)`: HTTP basic auth and the Docker config's `auth`.
    pub fn basic(&self) -> Secret {
        Secret::new(base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            self.username,
            self.password.expose()
        )))
    }

    /// A Docker config / containers auth file holding only this login for
    /// `host` (what buildah reads with `--authfile`).
    pub fn auth_file(&self, host: &str) -> String {
        serde_json::json!({ "auths": { host: { "auth": self.basic().expose() } } }).to_string()
    }
}

/// The Docker config file: `$DOCKER_CONFIG/config.json`, else
/// `$HOME/.docker/config.json` (where `docker login` and
/// `docker/login-action` write, and where buildah looks too).
pub fn docker_config_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let present = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    present("DOCKER_CONFIG")
        .map(|d| PathBuf::from(d).join("config.json"))
        .or_else(|| present("HOME").map(|h| PathBuf::from(h).join(".docker/config.json")))
}

/// The variable naming the runner's Docker config file inside the action's
/// container: action/container-run mounts the runner's
/// `$DOCKER_CONFIG/config.json` (else `~/.docker/config.json`, where
/// docker/login-action writes) read-only and sets this to its path there.
pub const RUNNER_DOCKER_CONFIG: &str = "FERRY_RUNNER_DOCKER_CONFIG";

/// The host a Docker config `auths` key names: `https://ghcr.io`,
/// `ghcr.io/`, `https://index.docker.io/v1/` → `ghcr.io`, `docker.io`.
fn config_key_host(key: &str) -> String {
    let key = key
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = key.split('/').next().unwrap_or(key).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".into(),
        _ => host,
    }
}

/// The login for `host` in a Docker config file's text, if it holds one
/// inline (`auths.<host>.auth`, or `username` + `password`). A credential
/// helper (`credsStore`, `credHelpers`) is the builder's business: None.
/// A malformed entry is an error that names the entry, never its value.
pub fn from_docker_config(text: &str, host: &str) -> Result<Option<Credentials>, String> {
    let doc: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("the Docker config file is not JSON: {e}"))?;
    let Some(auths) = doc.get("auths").and_then(|a| a.as_object()) else {
        return Ok(None);
    };
    let want = config_key_host(host);
    for (key, entry) in auths {
        if config_key_host(key) != want {
            continue;
        }
        if let Some(auth) = entry
            .get("auth")
            .and_then(|a| a.as_str())
            .filter(|a| !a.is_empty())
        {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            let Some((user, password)) = decoded.as_deref().and_then(|t| t.split_once(':')) else {
                return Err(format!(
                    "the Docker config file's auths.{} is not base64 of user:password: log in again (docker/login-action)",
                    crate::text::quote(key)
                ));
            };
            return Ok(Some(Credentials {
                username: user.into(),
                password: Secret::new(password),
            }));
        }
        if let (Some(user), Some(password)) = (
            entry.get("username").and_then(|u| u.as_str()),
            entry.get("password").and_then(|p| p.as_str()),
        ) {
            return Ok(Some(Credentials {
                username: user.into(),
                password: Secret::new(password),
            }));
        }
    }
    Ok(None)
}

/// A registry request that failed, in one line: `operation: code: message`.
#[derive(Debug, thiserror::Error)]
#[error("{operation}: {code}: {message}")]
pub struct RegistryError {
    /// What was asked (`registry 127.0.0.1:5000 GET manifest app:v1`).
    pub operation: String,
    /// The registry's error code (`UNAUTHORIZED`), else the HTTP status.
    pub code: String,
    /// The registry's message, on one line.
    pub message: String,
}

/// The code and message of an OCI error body (`{"errors":[{code,message}]}`),
/// one line, cut short: the registry's words are outside input.
fn error_of(status: hyper::StatusCode, body: &[u8]) -> (String, String) {
    let first = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("errors")?.as_array()?.first().cloned());
    let field = |k: &str| {
        first
            .as_ref()
            .and_then(|e| e.get(k)?.as_str().map(str::to_string))
    };
    let clean = |t: &str| {
        let one: String = t
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        crate::text::truncate_chars(one.trim(), 200)
    };
    let code = field("code").map_or_else(|| status.as_u16().to_string(), |c| clean(&c));
    let message = field("message").map_or_else(
        || clean(status.canonical_reason().unwrap_or("no reason given")),
        |m| clean(&m),
    );
    (code, message)
}

/// One `WWW-Authenticate` challenge: its scheme and parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `basic` or `bearer` (lowercase).
    pub scheme: String,
    /// `realm`, `service`, `scope`.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// Parses `Bearer realm="https://x/token",service="x",scope="repository:a:pull"`.
    pub fn parse(header: &str) -> Option<Self> {
        let (scheme, rest) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
        let mut params = Vec::new();
        let mut rest = rest.trim();
        while !rest.is_empty() {
            let (key, after) = rest.split_once('=')?;
            let key = key
                .trim()
                .trim_start_matches(',')
                .trim()
                .to_ascii_lowercase();
            let after = after.trim_start();
            let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
                let end = quoted.find('"')?;
                (&quoted[..end], &quoted[end + 1..])
            } else {
                let end = after.find(',').unwrap_or(after.len());
                (&after[..end], &after[end..])
            };
            params.push((key, value.to_string()));
            rest = tail.trim_start().trim_start_matches(',').trim_start();
        }
        Some(Self {
            scheme: scheme.to_ascii_lowercase(),
            params,
        })
    }

    fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A registry reached over HTTP(S), with an optional login.
#[derive(Debug)]
pub struct Registry {
    host: String,
    base: String,
    credentials: Option<Credentials>,
    /// The last `Authorization` value that worked (a bearer token is asked
    /// for again when the registry refuses it).
    authorization: Mutex<Option<Secret>>,
    client: Client<crate::http::Https, Full<Bytes>>,
}

struct Answer {
    status: hyper::StatusCode,
    content_type: Option<String>,
    challenge: Option<String>,
    body: Bytes,
}

impl Registry {
    /// A client for `host` (`insecure`: plain HTTP), logging in with
    /// `credentials` when the registry asks.
    pub fn new(
        host: &str,
        insecure: bool,
        credentials: Option<Credentials>,
    ) -> Result<Self, RegistryError> {
        let base = format!("{}://{host}", if insecure { "http" } else { "https" });
        let client = crate::http::client().map_err(|e| RegistryError {
            operation: format!("registry {host}"),
            code: "TLS".into(),
            message: format!("no TLS roots: {e}"),
        })?;
        Ok(Self {
            host: host.into(),
            base,
            credentials,
            authorization: Mutex::new(None),
            client,
        })
    }

    fn saved(&self) -> Option<Secret> {
        self.authorization.lock().ok().and_then(|a| a.clone())
    }

    fn save(&self, value: Secret) {
        if let Ok(mut a) = self.authorization.lock() {
            *a = Some(value);
        }
    }

    async fn send_once(
        &self,
        operation: &str,
        method: hyper::Method,
        url: &str,
        content_type: Option<&str>,
        body: Bytes,
        authorization: Option<&Secret>,
    ) -> Result<Answer, RegistryError> {
        let fail = |code: &str, message: String| RegistryError {
            operation: operation.into(),
            code: code.into(),
            message,
        };
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(url)
            .header("accept", ACCEPT);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        if let Some(auth) = authorization {
            req = req.header("authorization", auth.expose());
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| fail("REQUEST", e.to_string()))?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| fail("UNREACHABLE", crate::outside::chain(&e)))?;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let status = resp.status();
        let content_type = header("content-type");
        let challenge = header("www-authenticate");
        let body = http_body_util::Limited::new(resp.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    fail(
                        "TOO_LARGE",
                        format!(
                            "the answer is larger than {} MiB (Ferry's limit; a manifest is a few KiB)",
                            MAX_BODY >> 20
                        ),
                    )
                } else {
                    fail("READ", crate::outside::chain(&*e))
                }
            })?
            .to_bytes();
        Ok(Answer {
            status,
            content_type,
            challenge,
            body,
        })
    }

    /// Sends a request; on `401` answers the registry's challenge (basic
    /// login, or a token from its realm) and sends it once more.
    async fn send(
        &self,
        operation: &str,
        method: hyper::Method,
        url: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<Answer, RegistryError> {
        let saved = self.saved();
        let first = self
            .send_once(
                operation,
                method.clone(),
                url,
                content_type,
                body.clone(),
                saved.as_ref(),
            )
            .await?;
        if first.status != hyper::StatusCode::UNAUTHORIZED {
            return Ok(first);
        }
        let challenge = first.challenge.as_deref().and_then(Challenge::parse);
        let authorization = self.answer(operation, challenge).await?;
        let again = self
            .send_once(
                operation,
                method,
                url,
                content_type,
                body,
                Some(&authorization),
            )
            .await?;
        if again.status != hyper::StatusCode::UNAUTHORIZED {
            self.save(authorization);
        }
        Ok(again)
    }

    fn no_login(&self, operation: &str) -> RegistryError {
        RegistryError {
            operation: operation.into(),
            code: "UNAUTHORIZED".into(),
            message: format!(
                "{} requires a login and Ferry has none for it: log in before this step (docker/login-action), or give the registry-username and registry-token inputs",
                self.host
            ),
        }
    }

    /// The `Authorization` value answering a challenge.
    async fn answer(
        &self,
        operation: &str,
        challenge: Option<Challenge>,
    ) -> Result<Secret, RegistryError> {
        let scheme = challenge.as_ref().map(|c| c.scheme.as_str());
        if scheme != Some("bearer") {
            let creds = self
                .credentials
                .as_ref()
                .ok_or_else(|| self.no_login(operation))?;
            return Ok(Secret::new(format!("Basic {}", creds.basic().expose())));
        }
        let challenge = challenge.unwrap_or(Challenge {
            scheme: "bearer".into(),
            params: Vec::new(),
        });
        let fail = |code: &str, message: String| RegistryError {
            operation: format!("{operation} (token)"),
            code: code.into(),
            message,
        };
        let realm = challenge
            .param("realm")
            .ok_or_else(|| fail("CHALLENGE", "the Bearer challenge names no realm".into()))?;
        // The login goes to the realm only over TLS, or back to the registry
        // itself: a hostile challenge must not collect it elsewhere.
        let realm_host = realm
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or_default();
        let allowed = realm.starts_with("https://")
            || (realm.starts_with("http://") && realm_host == self.host);
        if !allowed {
            return Err(fail(
                "CHALLENGE",
                format!(
                    "the token realm {} is neither https nor this registry: refused",
                    crate::text::quote(realm)
                ),
            ));
        }
        let mut url = realm.to_string();
        let mut sep = if url.contains('?') { '&' } else { '?' };
        for key in ["service", "scope"] {
            if let Some(v) = challenge.param(key) {
                url.push_str(&format!("{sep}{key}={}", crate::github::encode(v)));
                sep = '&';
            }
        }
        let basic = self
            .credentials
            .as_ref()
            .map(|c| Secret::new(format!("Basic {}", c.basic().expose())));
        let answer = self
            .send_once(
                &format!("{operation} (token)"),
                hyper::Method::GET,
                &url,
                None,
                Bytes::new(),
                basic.as_ref(),
            )
            .await?;
        if answer.status == hyper::StatusCode::UNAUTHORIZED && self.credentials.is_none() {
            return Err(self.no_login(operation));
        }
        if !answer.status.is_success() {
            let (code, message) = error_of(answer.status, &answer.body);
            return Err(fail(&code, message));
        }
        let token = serde_json::from_slice::<serde_json::Value>(&answer.body)
            .ok()
            .and_then(|v| {
                v.get("token")
                    .or_else(|| v.get("access_token"))?
                    .as_str()
                    .map(str::to_string)
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| fail("TOKEN", "the token answer holds no token".into()))?;
        crate::gha::secrets::remember(&token);
        Ok(Secret::new(format!("Bearer {token}")))
    }

    /// The manifest a tag or digest names, if any.
    pub async fn manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<Image>, RegistryError> {
        let operation = format!("registry {} GET manifest {repo}:{reference}", self.host);
        let url = format!("{}/v2/{repo}/manifests/{reference}", self.base);
        let answer = self
            .send(&operation, hyper::Method::GET, &url, None, Bytes::new())
            .await?;
        if answer.status == hyper::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !answer.status.is_success() {
            let (code, message) = error_of(answer.status, &answer.body);
            return Err(RegistryError {
                operation,
                code,
                message,
            });
        }
        let digest = format!(
            "sha256:{}",
            Sha256::digest(&answer.body)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        if reference.starts_with("sha256:") && reference != digest {
            return Err(RegistryError {
                operation,
                code: "DIGEST_INVALID".into(),
                message: format!("the registry answered a manifest whose digest is {digest}"),
            });
        }
        Ok(Some(Image {
            digest,
            manifest: String::from_utf8_lossy(&answer.body).into_owned(),
            media_type: answer.content_type,
        }))
    }

    /// Puts `image`'s manifest under `tag`.
    pub async fn tag(&self, repo: &str, image: &Image, tag: &str) -> Result<(), RegistryError> {
        let operation = format!("registry {} PUT manifest {repo}:{tag}", self.host);
        let url = format!("{}/v2/{repo}/manifests/{tag}", self.base);
        let media = image
            .media_type
            .as_deref()
            .unwrap_or("application/vnd.oci.image.manifest.v1+json");
        let answer = self
            .send(
                &operation,
                hyper::Method::PUT,
                &url,
                Some(media),
                Bytes::from(image.manifest.clone().into_bytes()),
            )
            .await?;
        if answer.status.is_success() {
            Ok(())
        } else {
            let (code, message) = error_of(answer.status, &answer.body);
            Err(RegistryError {
                operation,
                code,
                message,
            })
        }
    }
}

/// The image's size as its manifest states it (config plus compressed
/// layers); None for an index or a manifest that says nothing.
pub fn manifest_size(manifest: &str) -> Option<i64> {
    let doc: serde_json::Value = serde_json::from_str(manifest).ok()?;
    let layers = doc.get("layers")?.as_array()?;
    let config = doc
        .get("config")
        .and_then(|c| c.get("size")?.as_i64())
        .unwrap_or(0);
    layers
        .iter()
        .map(|l| l.get("size")?.as_i64())
        .sum::<Option<i64>>()
        .map(|s| s + config)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_ecr_hosts_are_ecr() {
        for host in [
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.eu-west-3.amazonaws.com:443",
            "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
            "123456789012.DKR.ECR.us-east-1.amazonaws.com",
        ] {
            assert!(is_ecr_host(host), "{host}");
        }
        for host in [
            "ghcr.io",
            "docker.io",
            "127.0.0.1:5000",
            "public.ecr.aws",
            "ACCOUNT.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example",
            "x.123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "12345678901.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr..amazonaws.com",
            "",
        ] {
            assert!(!is_ecr_host(host), "{host}");
        }
    }

    fn b64(t: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(t)
    }

    #[test]
    fn the_docker_config_gives_the_login_of_the_host_asked() {
        let text = serde_json::json!({
            "auths": {
                "https://ghcr.io": { "auth": b64("octo:ghp_secret") },
                "127.0.0.1:5002": { "auth": b64("AWS:pa:ss") },
                "https://index.docker.io/v1/": { "username": "hub", "password": "dckr_pat" },
                "quay.io": {}
            },
            "credsStore": "desktop"
        })
        .to_string();
        let got = |h: &str| from_docker_config(&text, h).unwrap();
        let ghcr = got("ghcr.io").unwrap();
        assert_eq!(ghcr.username, "octo");
        assert_eq!(ghcr.password.expose(), "ghp_secret");
        // The password keeps every `:` after the first.
        assert_eq!(got("127.0.0.1:5002").unwrap().password.expose(), "pa:ss");
        assert_eq!(got("docker.io").unwrap().username, "hub");
        assert_eq!(got("quay.io"), None);
        assert_eq!(got("127.0.0.1:5001"), None);
        assert_eq!(got("example.com"), None);
        assert_eq!(from_docker_config("{}", "ghcr.io").unwrap(), None);
    }

    #[test]
    fn a_malformed_docker_config_is_named_without_its_secret() {
        let err = from_docker_config("not json", "ghcr.io").unwrap_err();
        assert!(err.contains("not JSON"), "{err}");
        let text =
            serde_json::json!({ "auths": { "ghcr.io": { "auth": "c2VjcmV0LW5vLWNvbG9u" } } })
                .to_string();
        let err = from_docker_config(&text, "ghcr.io").unwrap_err();
        assert!(err.contains("auths.`ghcr.io`"), "{err}");
        assert!(
            !err.contains("secret-no-colon") && !err.contains("c2VjcmV0"),
            "{err}"
        );
    }

    #[test]
    fn the_docker_config_path_follows_docker_config_then_home() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            docker_config_path(&env(&[("DOCKER_CONFIG", "/c"), ("HOME", "/h")])),
            Some(PathBuf::from("/c/config.json"))
        );
        assert_eq!(
            docker_config_path(&env(&[("DOCKER_CONFIG", ""), ("HOME", "/h")])),
            Some(PathBuf::from("/h/.docker/config.json"))
        );
        assert_eq!(docker_config_path(&env(&[])), None);
    }

    #[test]
    fn credentials_never_show_and_make_an_auth_file() {
        let c = Credentials {
            username: "u".into(),
            password: Secret::new("p@ss"),
        };
        assert!(!format!("{c:?}").contains("p@ss"));
        let file: serde_json::Value = serde_json::from_str(&c.auth_file("ghcr.io")).unwrap();
        assert_eq!(file["auths"]["ghcr.io"]["auth"], b64("u:p@ss"));
    }

    #[test]
    fn challenges_parse() {
        let c = Challenge::parse(
            r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/r:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.param("realm"), Some("https://ghcr.io/token"));
        assert_eq!(c.param("scope"), Some("repository:o/r:pull,push"));
        let c = Challenge::parse(r#"Basic realm="ferry-testbed""#).unwrap();
        assert_eq!(c.scheme, "basic");
        let c = Challenge::parse("Basic").unwrap();
        assert!(c.params.is_empty());
        assert!(Challenge::parse(r#"Bearer realm="unterminated"#).is_none());
    }

    #[test]
    fn registry_errors_are_one_line() {
        let body = br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication\nrequired","detail":null}]}"#;
        let (code, message) = error_of(hyper::StatusCode::UNAUTHORIZED, body);
        assert_eq!(code, "UNAUTHORIZED");
        assert_eq!(message, "authentication required");
        let (code, message) = error_of(hyper::StatusCode::BAD_GATEWAY, b"<html>");
        assert_eq!((code.as_str(), message.as_str()), ("502", "Bad Gateway"));
        let e = RegistryError {
            operation: "registry h GET manifest a:b".into(),
            code,
            message,
        };
        assert_eq!(
            e.to_string(),
            "registry h GET manifest a:b: 502: Bad Gateway"
        );
    }

    #[test]
    fn the_size_is_config_plus_layers() {
        let m = r#"{"config":{"size":10},"layers":[{"size":100},{"size":1000}]}"#;
        assert_eq!(manifest_size(m), Some(1110));
        assert_eq!(manifest_size(r#"{"manifests":[]}"#), None);
        assert_eq!(manifest_size("x"), None);
    }
}
