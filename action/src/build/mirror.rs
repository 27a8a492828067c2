//! The registry's own HTTP API (Docker Registry v2 / OCI distribution), for
//! a registry that is not ECR's: read a pushed manifest, add a tag to it.
//!
//! With ECR itself, the ECR API already sees every push and every re-tag,
//! so this is unused. When `build.registry` points elsewhere (a mirror, or
//! the local registry the tests pair with moto), Ferry keeps both in step:
//! the registry holds the manifests, ECR the record of tags.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sha2::{Digest, Sha256};

use crate::aws::ecr::Image;
use crate::gha::Secret;

/// The most of a registry's answer Ferry reads (manifests and errors).
pub const REGISTRY_BODY_BYTES: usize = 16 << 20;

const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// A registry reached over HTTP(S).
#[derive(Debug, Clone)]
pub struct Mirror {
    base: String,
    auth: Option<Secret>,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

/// A registry request that failed.
#[derive(Debug, thiserror::Error)]
#[error(
    "registry {url}: {detail}\n  help: check that the registry in build.registry is up and reachable"
)]
pub struct MirrorError {
    /// The request URL.
    pub url: String,
    /// What went wrong.
    pub detail: String,
}

impl Mirror {
    /// A client for `host` (`http://` prefix: plain HTTP), with basic auth.
    pub fn new(host: &str, insecure: bool, auth: Option<Secret>) -> Result<Self, MirrorError> {
        let base = format!("{}://{host}", if insecure { "http" } else { "https" });
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls_ring())
            .map_err(|e| MirrorError {
                url: base.clone(),
                detail: format!("no TLS roots: {e}"),
            })?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            base,
            auth,
            client: Client::builder(TokioExecutor::new()).build(https),
        })
    }

    async fn send(
        &self,
        method: hyper::Method,
        url: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<(hyper::StatusCode, Option<String>, Bytes), MirrorError> {
        let fail = |detail: String| MirrorError {
            url: url.into(),
            detail,
        };
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(url)
            .header("accept", ACCEPT);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        if let Some(auth) = &self.auth {
            req = req.header("authorization", format!("Basic {}", auth.expose()));
        }
        let req = req.body(Full::new(body)).map_err(|e| fail(e.to_string()))?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| fail(format!("unreachable: {e}")))?;
        let status = resp.status();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = http_body_util::Limited::new(resp.into_body(), REGISTRY_BODY_BYTES)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    fail(format!(
                        "the answer is larger than {} MiB (Ferry's limit; a manifest is a few KiB)",
                        REGISTRY_BODY_BYTES >> 20
                    ))
                } else {
                    fail(e.to_string())
                }
            })?
            .to_bytes();
        Ok((status, ct, body))
    }

    /// The manifest a tag or digest names, if any.
    pub async fn manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<Image>, MirrorError> {
        let url = format!("{}/v2/{repo}/manifests/{reference}", self.base);
        let (status, ct, body) = self
            .send(hyper::Method::GET, &url, None, Bytes::new())
            .await?;
        if status == hyper::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(MirrorError {
                url,
                detail: format!("HTTP {status}"),
            });
        }
        let digest = format!(
            "sha256:{}",
            Sha256::digest(&body)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        Ok(Some(Image {
            digest,
            manifest: String::from_utf8_lossy(&body).into_owned(),
            media_type: ct,
        }))
    }

    /// Puts `image`'s manifest under `tag`.
    pub async fn tag(&self, repo: &str, image: &Image, tag: &str) -> Result<(), MirrorError> {
        let url = format!("{}/v2/{repo}/manifests/{tag}", self.base);
        let media = image
            .media_type
            .as_deref()
            .unwrap_or("application/vnd.oci.image.manifest.v1+json");
        let (status, _, body) = self
            .send(
                hyper::Method::PUT,
                &url,
                Some(media),
                Bytes::from(image.manifest.clone().into_bytes()),
            )
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(MirrorError {
                url,
                detail: format!("HTTP {status}: {}", String::from_utf8_lossy(&body)),
            })
        }
    }
}

fn rustls_ring() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}
