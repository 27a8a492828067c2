//! ECR: the registry login, and the record of which images exist under
//! which tags (the basis of `build`'s reuse).
//!
//! The client comes from the one AWS config ([`super::config`]); the region
//! is the manifest's.

use aws_sdk_ecr::Client;
use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecr::types::ImageIdentifier;
use base64::Engine;

use crate::gha::Secret;

/// Manifest media types Ferry reads back and re-tags.
const MEDIA_TYPES: &[&str] = &[
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// An ECR call that failed, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum EcrError {
    /// No answer at all (network, endpoint).
    #[error(
        "cannot reach ECR ({call}): {detail}\n  help: check the network and AWS_ENDPOINT_URL / the region `{region}`"
    )]
    Unreachable {
        /// The API call.
        call: &'static str,
        /// The region.
        region: String,
        /// The SDK's account of it.
        detail: String,
    },
    /// The repository does not exist.
    #[error(
        "ECR repository `{0}` does not exist\n  help: create it (terraform/aws declares one per service), or fix ecr-repository in the manifest"
    )]
    NoRepository(String),
    /// Credentials missing or refused.
    #[error(
        "ECR refused {call}: {detail}\n  help: check the AWS credentials of this job (OIDC role, permissions ecr:GetAuthorizationToken, ecr:BatchGetImage, ecr:DescribeImages, ecr:PutImage)"
    )]
    Refused {
        /// The API call.
        call: &'static str,
        /// The service's message.
        detail: String,
    },
    /// The answer was not what ECR documents.
    #[error("ECR {call} answered something unexpected: {detail}")]
    Unexpected {
        /// The API call.
        call: &'static str,
        /// What was wrong.
        detail: String,
    },
}

/// Registry credentials from `GetAuthorizationToken`.
#[derive(Debug, Clone)]
pub struct Login {
    /// The registry host ECR named (`<account>.dkr.ecr.<region>.amazonaws.com`).
    pub host: String,
    /// The user name (always `AWS`).
    pub username: String,
    /// The password: masked, sent on stdin only.
    pub password: Secret,
    /// The raw token (`base64(user:password)`), for HTTP basic auth.
    pub basic: Secret,
}

/// An image ECR knows, by tag or digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// `sha256:...`
    pub digest: String,
    /// The manifest document, byte for byte.
    pub manifest: String,
    /// Its media type.
    pub media_type: Option<String>,
}

/// The ECR adapter.
#[derive(Debug, Clone)]
pub struct Ecr {
    client: Client,
    region: String,
}

fn classify<E, R>(call: &'static str, region: &str, err: SdkError<E, R>) -> EcrError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = err.code().map(str::to_string);
    let message = err.message().map(str::to_string);
    if code.is_none() && crate::outside::lacks_credentials(&err) {
        return EcrError::Refused {
            call,
            detail: format!("no AWS credentials ({})", crate::outside::chain(&err)),
        };
    }
    match (&err, code.as_deref()) {
        (SdkError::DispatchFailure(_) | SdkError::TimeoutError(_), _) => EcrError::Unreachable {
            call,
            region: region.into(),
            detail: crate::outside::chain(&err),
        },
        (
            _,
            Some(
                "AccessDeniedException"
                | "UnrecognizedClientException"
                | "InvalidSignatureException"
                | "ExpiredTokenException",
            ),
        ) => EcrError::Refused {
            call,
            detail: message.unwrap_or_else(|| crate::outside::chain(&err)),
        },
        _ => EcrError::Unexpected {
            call,
            detail: match (code, message) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                _ => crate::outside::chain(&err),
            },
        },
    }
}

impl Ecr {
    /// A client for `region`, from the one AWS config.
    pub async fn from_env(region: &str) -> Self {
        Self {
            client: Client::new(&super::config(region).await),
            region: region.into(),
        }
    }

    /// `GetAuthorizationToken`: the registry host and its credentials.
    pub async fn login(&self) -> Result<Login, EcrError> {
        const CALL: &str = "GetAuthorizationToken";
        let out = self
            .client
            .get_authorization_token()
            .send()
            .await
            .map_err(|e| classify(CALL, &self.region, e))?;
        let data = out
            .authorization_data()
            .first()
            .ok_or(EcrError::Unexpected {
                call: CALL,
                detail: "no authorization data".into(),
            })?;
        let token = data.authorization_token().unwrap_or_default();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        let Some((user, password)) = decoded.as_deref().and_then(|t| t.split_once(':')) else {
            return Err(EcrError::Unexpected {
                call: CALL,
                // Never the token itself: it is a credential even when malformed.
                detail: "the authorization token is not base64 of user:password".into(),
            });
        };
        let host = data
            .proxy_endpoint()
            .unwrap_or_default()
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        Ok(Login {
            host,
            username: user.into(),
            password: Secret::new(password),
            basic: Secret::new(token),
        })
    }

    /// The image a tag (or `sha256:` digest) names, if any.
    pub async fn find(&self, repository: &str, reference: &str) -> Result<Option<Image>, EcrError> {
        const CALL: &str = "BatchGetImage";
        let id = if reference.starts_with("sha256:") {
            ImageIdentifier::builder().image_digest(reference).build()
        } else {
            ImageIdentifier::builder().image_tag(reference).build()
        };
        let mut req = self
            .client
            .batch_get_image()
            .repository_name(repository)
            .image_ids(id);
        for m in MEDIA_TYPES {
            req = req.accepted_media_types(*m);
        }
        let out = match req.send().await {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_repository_not_found_exception()) =>
            {
                return Err(EcrError::NoRepository(repository.into()));
            }
            Err(e) => return Err(classify(CALL, &self.region, e)),
        };
        Ok(out.images().first().and_then(|img| {
            Some(Image {
                digest: img.image_id()?.image_digest()?.to_string(),
                manifest: img.image_manifest()?.to_string(),
                media_type: img.image_manifest_media_type().map(str::to_string),
            })
        }))
    }

    /// Adds `tag` to an image (`PutImage` with its manifest). A tag that
    /// already names this image is fine; on another image it is an error.
    pub async fn tag(&self, repository: &str, image: &Image, tag: &str) -> Result<(), EcrError> {
        const CALL: &str = "PutImage";
        let mut req = self
            .client
            .put_image()
            .repository_name(repository)
            .image_manifest(&image.manifest)
            .image_tag(tag)
            .image_digest(&image.digest);
        if let Some(m) = &image.media_type {
            req = req.image_manifest_media_type(m);
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(s) if s.is_image_already_exists_exception() => Ok(()),
                Some(s) if s.is_repository_not_found_exception() => {
                    Err(EcrError::NoRepository(repository.into()))
                }
                Some(s) if s.is_image_tag_already_exists_exception() => Err(EcrError::Unexpected {
                    call: CALL,
                    detail: format!(
                        "tag `{tag}` already names another image in the immutable repository `{repository}`"
                    ),
                }),
                _ => Err(classify(CALL, &self.region, e)),
            },
        }
    }

    /// The image's size in bytes as ECR reports it (compressed layers).
    pub async fn size(&self, repository: &str, digest: &str) -> Result<Option<i64>, EcrError> {
        let out = self
            .client
            .describe_images()
            .repository_name(repository)
            .image_ids(ImageIdentifier::builder().image_digest(digest).build())
            .send()
            .await;
        match out {
            Ok(out) => Ok(out
                .image_details()
                .first()
                .and_then(|d| d.image_size_in_bytes())),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_image_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(classify("DescribeImages", &self.region, e)),
        }
    }
}
