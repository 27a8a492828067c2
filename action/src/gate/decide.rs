//! The gate's decision, over the records already fetched: may this image
//! (or this commit's images) go to the target environment?

use serde::Serialize;

use crate::github::deployments::{DeploymentRecord, DeploymentState};
use crate::image::pinned_digest;

/// What is to be promoted for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    /// This image (`--images`): its digest must have succeeded in the source.
    Image(String),
    /// This commit (no `--images`): its deployment must have succeeded in
    /// the source, whose recorded image is then promoted.
    Commit(String),
}

/// One service's evidence: its deployments in the source environment
/// (newest first) with their latest state, where it was read.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// The manifest's service.
    pub service: String,
    /// What is to be promoted.
    pub want: Want,
    /// Deployments to the source environment, newest first.
    pub deployments: Vec<(DeploymentRecord, Option<DeploymentState>)>,
}

/// The gate's answer for one service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// The manifest's service.
    pub service: String,
    /// The image to promote (from `--images`, or from the source deployment).
    pub image: Option<String>,
    /// The source deployment that allows it.
    pub deployment: Option<u64>,
    /// When that deployment was created (RFC 3339).
    pub deployed_at: Option<String>,
    /// Why it is refused; `None` when allowed.
    pub refusal: Option<String>,
}

impl Verdict {
    /// Whether the service may be promoted.
    pub fn allowed(&self) -> bool {
        self.refusal.is_none()
    }
}

fn short(d: &str) -> String {
    d.chars().take(19).collect()
}

/// Decides one service; `source` names the environment promoted from.
pub fn decide(source: &str, e: &Evidence) -> Verdict {
    match &e.want {
        Want::Image(image) => decide_image(source, e, image),
        Want::Commit(sha) => decide_commit(source, e, sha),
    }
}

/// A refusal of `e`'s service.
fn refuse(e: &Evidence, image: Option<String>, why: String) -> Verdict {
    Verdict {
        service: e.service.clone(),
        image,
        deployment: None,
        deployed_at: None,
        refusal: Some(why),
    }
}

/// `e`'s service allowed, on the strength of deployment `r`.
fn allow(e: &Evidence, image: Option<String>, r: &DeploymentRecord) -> Verdict {
    Verdict {
        service: e.service.clone(),
        image,
        deployment: Some(r.id),
        deployed_at: Some(r.created_at.clone()),
        refusal: None,
    }
}

fn succeeded(s: &Option<DeploymentState>) -> bool {
    s.is_some_and(DeploymentState::succeeded)
}

/// An image given by digest: allowed when a deployment of that digest
/// succeeded in `source`.
fn decide_image(source: &str, e: &Evidence, image: &str) -> Verdict {
    let Some(want) = pinned_digest(image) else {
        return refuse(
            e,
            Some(image.to_string()),
            format!(
                "`{image}` has no digest: the gate compares digests, so pass repository@sha256:… (ferry build's `images` output)"
            ),
        );
    };
    let same: Vec<_> = e
        .deployments
        .iter()
        .filter(|(r, _)| {
            r.payload
                .as_ref()
                .and_then(|p| p.image.as_deref())
                .and_then(pinned_digest)
                == Some(want)
        })
        .collect();
    if let Some((r, _)) = same.iter().find(|(_, s)| succeeded(s)) {
        return allow(e, Some(image.to_string()), r);
    }
    if let Some((r, s)) = same.first() {
        return refuse(
            e,
            Some(image.to_string()),
            format!(
                "{} was deployed to {source} (deployment {}) but did not succeed there (latest status: {})",
                short(want),
                r.id,
                s.map_or("none", DeploymentState::as_str)
            ),
        );
    }
    let latest = e
        .deployments
        .iter()
        .find_map(|(r, _)| r.payload.as_ref()?.image.as_deref().and_then(pinned_digest));
    refuse(
        e,
        Some(image.to_string()),
        match latest {
            Some(other) => format!(
                "{} was never deployed to {source}; {source}'s latest deployment has {}",
                short(want),
                short(other)
            ),
            None => format!("{} was never deployed to {source}", short(want)),
        },
    )
}

/// A commit: allowed when a deployment of it succeeded in `source` and
/// recorded the image digest it deployed.
fn decide_commit(source: &str, e: &Evidence, sha: &str) -> Verdict {
    let of_commit: Vec<_> = e.deployments.iter().filter(|(r, _)| r.sha == sha).collect();
    let short_sha: String = sha.chars().take(7).collect();
    match of_commit.iter().find(|(_, s)| succeeded(s)) {
        Some((r, _)) => match r.payload.as_ref().and_then(|p| p.image.clone()) {
            Some(image) if pinned_digest(&image).is_some() => allow(e, Some(image), r),
            _ => refuse(
                e,
                None,
                format!(
                    "the {source} deployment {} of {short_sha} records no image digest; pass --images",
                    r.id
                ),
            ),
        },
        None => match of_commit.first() {
            Some((r, s)) => refuse(
                e,
                None,
                format!(
                    "commit {short_sha} was deployed to {source} (deployment {}) but did not succeed there (latest status: {})",
                    r.id,
                    s.map_or("none", DeploymentState::as_str)
                ),
            ),
            None => refuse(
                e,
                None,
                format!("commit {short_sha} was never deployed to {source}"),
            ),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::github::deployments::DeploymentPayload;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn record(id: u64, sha: &str, digest: &str) -> DeploymentRecord {
        DeploymentRecord {
            id,
            sha: sha.into(),
            payload: Some(DeploymentPayload {
                service: "api".into(),
                image: Some(format!("reg/shop/api@{digest}")),
                task_definition_arn: None,
            }),
            created_at: "2024-05-01T10:00:00Z".into(),
        }
    }

    fn image(want: &str, deployments: Vec<(DeploymentRecord, Option<DeploymentState>)>) -> Verdict {
        decide(
            "staging",
            &Evidence {
                service: "api".into(),
                want: Want::Image(format!("other-registry/shop/api:v1@{want}")),
                deployments,
            },
        )
    }

    #[test]
    fn the_same_digest_that_succeeded_is_allowed_whatever_the_tag() {
        let v = image(
            D1,
            vec![
                (record(3, "c", D2), Some(DeploymentState::Success)),
                (record(2, "b", D1), Some(DeploymentState::Inactive)),
            ],
        );
        assert!(v.allowed(), "{v:?}");
        assert_eq!(v.deployment, Some(2));
    }

    #[test]
    fn a_different_digest_a_failure_or_nothing_is_refused() {
        let v = image(
            D1,
            vec![(record(3, "c", D2), Some(DeploymentState::Success))],
        );
        assert_eq!(
            v.refusal.as_deref(),
            Some(
                "sha256:111111111111 was never deployed to staging; staging's latest deployment has sha256:222222222222"
            )
        );
        let v = image(
            D1,
            vec![(record(3, "c", D1), Some(DeploymentState::Failure))],
        );
        assert!(
            v.refusal
                .unwrap()
                .contains("did not succeed there (latest status: failure)")
        );
        let v = image(D1, vec![]);
        assert_eq!(
            v.refusal.as_deref(),
            Some("sha256:111111111111 was never deployed to staging")
        );
        let v = decide(
            "staging",
            &Evidence {
                service: "api".into(),
                want: Want::Image("reg/shop/api:latest".into()),
                deployments: vec![],
            },
        );
        assert!(v.refusal.unwrap().contains("has no digest"));
    }

    #[test]
    fn a_commit_brings_the_image_its_source_deployment_recorded() {
        let evidence = |state| Evidence {
            service: "api".into(),
            want: Want::Commit("abcdef0123".into()),
            deployments: vec![
                (record(5, "ffff", D2), Some(DeploymentState::Success)),
                (record(4, "abcdef0123", D1), state),
            ],
        };
        let v = decide("staging", &evidence(Some(DeploymentState::Success)));
        assert!(v.allowed());
        assert_eq!(
            v.image.as_deref(),
            Some(format!("reg/shop/api@{D1}").as_str())
        );
        let v = decide("staging", &evidence(Some(DeploymentState::Error)));
        assert!(
            v.refusal.unwrap().contains(
                "commit abcdef0 was deployed to staging (deployment 4) but did not succeed"
            )
        );
        let v = decide("staging", &evidence(None));
        assert!(v.refusal.unwrap().contains("latest status: none"));
    }
}
