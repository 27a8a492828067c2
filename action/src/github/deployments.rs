//! GitHub Deployments: Ferry's release history, one record per service and
//! environment (`task: deploy:<service>`), with statuses GitHub's
//! environments view shows. `deploy` writes them, `gate`, rollback and
//! `detect` read them back.
//!
//! Every reader here believes only records (Deployments and statuses alike)
//! whose `creator` is one of the client's trusted authors
//! ([`crate::trust`]): a record anyone else made with Ferry's task, or a
//! status anyone else added to Ferry's record, is named in a warning and
//! skipped, inside these functions, so no caller can forget the rule.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::http_get::Retry;
use super::{GitHub, GitHubError, Page, encode};
use crate::trust::{self, Author, TrustedAuthors};

/// How many statuses of one deployment are read to find the newest one a
/// trusted author set (GitHub lists them newest first).
const STATUSES_MAX: usize = 100;

/// GitHub's limit on a status description, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 140;

/// What a GitHub Deployment's payload records for one service: enough for
/// `gate` to compare images and for a later rollback to find the task
/// definition of the last good release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentPayload {
    /// The manifest's service name.
    pub service: String,
    /// The image (`repository@sha256:…`).
    pub image: Option<String>,
    /// The task definition ARN the release put on the service.
    pub task_definition_arn: Option<String>,
}

/// The GitHub Deployments `task` Ferry records a service's releases under.
pub fn deployment_task(service: &str) -> String {
    format!("deploy:{service}")
}
/// How many deployments of one sha + environment + task are searched for one
/// to reuse (a re-run finds its own record among them).
const REUSE_SEARCH_MAX: usize = 100;

/// A deployment status, as GitHub names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentState {
    /// The deploy could not be carried out.
    Error,
    /// The deploy failed.
    Failure,
    /// Superseded (GitHub sets it on older deployments).
    Inactive,
    /// Rolling out.
    InProgress,
    /// Waiting to start.
    Queued,
    /// Created, nothing reported yet.
    Pending,
    /// The deploy succeeded.
    Success,
}

impl DeploymentState {
    /// GitHub's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentState::Error => "error",
            DeploymentState::Failure => "failure",
            DeploymentState::Inactive => "inactive",
            DeploymentState::InProgress => "in_progress",
            DeploymentState::Queued => "queued",
            DeploymentState::Pending => "pending",
            DeploymentState::Success => "success",
        }
    }

    /// Whether the deployment succeeded: `success`, or `inactive`, which
    /// GitHub only gives a successful deployment when a later one in the
    /// same environment succeeds (GitHub Actions' own job deployments do
    /// that to every earlier record).
    pub fn succeeded(self) -> bool {
        matches!(self, DeploymentState::Success | DeploymentState::Inactive)
    }
}

/// One of Ferry's deployment records, as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentRecord {
    /// GitHub's deployment id.
    pub id: u64,
    /// The commit deployed.
    pub sha: String,
    /// What Ferry recorded: service, image, task definition (None when the
    /// record was not written by Ferry or its payload does not parse).
    pub payload: Option<DeploymentPayload>,
    /// When it was created, RFC 3339.
    pub created_at: String,
}

/// What [`GitHub::create_deployment`] asks for.
#[derive(Debug, Clone)]
pub struct NewDeployment<'a> {
    /// The commit (`ref`).
    pub sha: &'a str,
    /// The environment.
    pub environment: &'a str,
    /// The manifest's service (`task: deploy:<service>`).
    pub service: &'a str,
    /// The payload recorded.
    pub payload: &'a DeploymentPayload,
    /// A one-line description.
    pub description: &'a str,
    /// Whether the environment is a promotion target (has `promote-from`),
    /// i.e. where users are served.
    pub production: bool,
}

/// A deployment created, or found again on a re-run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// The record.
    pub record: DeploymentRecord,
    /// True when an existing record of the same release was reused.
    pub reused: bool,
}

/// A status to add to a deployment.
#[derive(Debug, Clone)]
pub struct NewStatus<'a> {
    /// The state.
    pub state: DeploymentState,
    /// Link to the workflow run.
    pub log_url: Option<&'a str>,
    /// The environment's URL (GitHub shows it as "View deployment").
    pub environment_url: Option<&'a str>,
    /// One line; cut to 140 characters.
    pub description: &'a str,
}

#[derive(Debug, Deserialize)]
struct ApiDeployment {
    id: u64,
    sha: String,
    #[serde(default)]
    payload: Value,
    #[serde(default)]
    created_at: String,
    #[serde(default)]
    creator: Option<Author>,
}

impl ApiDeployment {
    fn record(self) -> DeploymentRecord {
        DeploymentRecord {
            id: self.id,
            sha: self.sha,
            payload: parse_payload(&self.payload),
            created_at: self.created_at,
        }
    }
}

/// A deployment status: what was set, when and by whom.
#[derive(Debug, Deserialize)]
struct ApiStatus {
    #[serde(default)]
    id: u64,
    state: DeploymentStateOrOther,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    created_at: String,
    #[serde(default)]
    creator: Option<Author>,
}

/// Keeps the records `trusted` wrote; warns about each other one that
/// carries Ferry's task (`what` names the kind of record).
fn keep_trusted<T>(
    items: Vec<T>,
    trusted: &TrustedAuthors,
    what: &dyn Fn(&T) -> String,
    creator: &dyn Fn(&T) -> Option<&Author>,
) -> Vec<T> {
    items
        .into_iter()
        .filter(|item| {
            let ok = trusted.trusts(creator(item));
            if !ok {
                trust::warn_ignored(&what(item), creator(item), trusted);
            }
            ok
        })
        .collect()
}

/// A state Ferry does not know (GitHub may add some) reads as `None`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DeploymentStateOrOther {
    Known(DeploymentState),
    Other(#[allow(dead_code)] String),
}

/// A payload as GitHub returns it: an object, or (for records made by some
/// tools) a JSON string.
pub fn parse_payload(value: &Value) -> Option<DeploymentPayload> {
    match value {
        Value::String(s) => serde_json::from_str(s).ok(),
        Value::Object(_) => serde_json::from_value(value.clone()).ok(),
        _ => None,
    }
}

/// Whether a record is the same release: same image and task definition.
fn same_release(record: &DeploymentRecord, payload: &DeploymentPayload) -> bool {
    record.payload.as_ref().is_some_and(|p| {
        p.service == payload.service
            && p.image == payload.image
            && p.task_definition_arn == payload.task_definition_arn
    })
}

impl GitHub {
    fn deployments_path(&self) -> String {
        format!("/repos/{}/{}/deployments", self.repo.owner, self.repo.name)
    }

    /// Ferry's deployments of `service` to `environment`, newest first (as
    /// GitHub lists them), optionally of one commit only, at most `max`.
    pub async fn deployments(
        &self,
        environment: &str,
        service: &str,
        sha: Option<&str>,
        max: usize,
    ) -> Result<Vec<DeploymentRecord>, GitHubError> {
        let mut url = format!(
            "{}?environment={}&task={}&per_page={}",
            self.deployments_path(),
            encode(environment),
            encode(&deployment_task(service)),
            max.clamp(1, 100)
        );
        if let Some(sha) = sha {
            url.push_str(&format!("&sha={}", encode(sha)));
        }
        let listed: Vec<ApiDeployment> = self.list(url, max).await?;
        let task = deployment_task(service);
        Ok(keep_trusted(
            listed.into_iter().take(max).collect(),
            &self.trusted,
            &|d| format!("deployment {} ({task})", d.id),
            &|d| d.creator.as_ref(),
        )
        .into_iter()
        .map(ApiDeployment::record)
        .collect())
    }

    /// The newest status of deployment `id` that a trusted author set
    /// (newer ones by anyone else are warned about and passed over).
    async fn trusted_status(&self, id: u64) -> Result<Option<ApiStatus>, GitHubError> {
        let url = format!(
            "{}/{id}/statuses?per_page={STATUSES_MAX}",
            self.deployments_path()
        );
        let page: Page<Vec<ApiStatus>> = self.get(&url).await?;
        let mut newest = None;
        for s in page.body {
            if self.trusted.trusts(s.creator.as_ref()) {
                newest = Some(s);
                break;
            }
            trust::warn_ignored(
                &format!("status {} of deployment {id}", s.id),
                s.creator.as_ref(),
                &self.trusted,
            );
        }
        Ok(newest)
    }

    /// The descriptions of deployment `id`'s statuses set by a trusted
    /// author, newest first (one-off tasks record their success in them);
    /// a status anyone else set is warned about and skipped.
    pub async fn trusted_descriptions(&self, id: u64) -> Result<Vec<String>, GitHubError> {
        let url = format!(
            "{}/{id}/statuses?per_page={STATUSES_MAX}",
            self.deployments_path()
        );
        let page: Page<Vec<ApiStatus>> = self.get(&url).await?;
        Ok(keep_trusted(
            page.body,
            &self.trusted,
            &|s| format!("status {} of deployment {id}", s.id),
            &|s| s.creator.as_ref(),
        )
        .into_iter()
        .filter_map(|s| s.description)
        .collect())
    }

    /// The state of a deployment's newest status set by a trusted author
    /// (None: no such status yet, or one Ferry does not know).
    pub async fn latest_state(&self, id: u64) -> Result<Option<DeploymentState>, GitHubError> {
        Ok(self.trusted_status(id).await?.and_then(|s| match s.state {
            DeploymentStateOrOther::Known(k) => Some(k),
            DeploymentStateOrOther::Other(_) => None,
        }))
    }

    /// The newest deployment of `service` to `environment` that succeeded
    /// (latest status `success`, or `inactive` after one), looking at most `max` deployments back: the
    /// release a rollback returns to, and what `detect` and `gate` compare with.
    pub async fn last_successful(
        &self,
        environment: &str,
        service: &str,
        max: usize,
    ) -> Result<Option<DeploymentRecord>, GitHubError> {
        for record in self.deployments(environment, service, None, max).await? {
            if self
                .latest_state(record.id)
                .await?
                .is_some_and(DeploymentState::succeeded)
            {
                return Ok(Some(record));
            }
        }
        Ok(None)
    }

    /// Records a release: reuses the deployment of the same commit,
    /// environment, service, image and task definition when there is one (a
    /// re-run makes no second record), else creates it.
    ///
    /// The create is retried only on answers that say it was not processed;
    /// after a 5xx, the records are listed again first, since the create may
    /// have gone through.
    pub async fn create_deployment(
        &self,
        new: &NewDeployment<'_>,
    ) -> Result<Deployment, GitHubError> {
        let body = json!({
            "ref": new.sha,
            "task": deployment_task(new.service),
            "auto_merge": false,
            "required_contexts": [],
            "payload": new.payload,
            "environment": new.environment,
            "description": crate::text::truncate_chars(new.description, DESCRIPTION_MAX_CHARS),
            "transient_environment": false,
            "production_environment": new.production,
        });
        let mut attempt = 1;
        loop {
            let existing = self
                .deployments(
                    new.environment,
                    new.service,
                    Some(new.sha),
                    REUSE_SEARCH_MAX,
                )
                .await?;
            if let Some(record) = existing
                .into_iter()
                .find(|r| r.sha == new.sha && same_release(r, new.payload))
            {
                return Ok(Deployment {
                    record,
                    reused: true,
                });
            }
            match self
                .post::<ApiDeployment>(&self.deployments_path(), &body, Retry::NotProcessed)
                .await
            {
                Ok(created) => {
                    return Ok(Deployment {
                        record: created.record(),
                        reused: false,
                    });
                }
                Err(e) if e.status().is_some_and(|s| s >= 500) && attempt < self.retry.attempts => {
                    tracing::warn!(
                        "creating a deployment failed ({e}); looking again, then retrying"
                    );
                    tokio::time::sleep(self.retry.base_delay * 2u32.pow(attempt - 1)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Adds a status to deployment `id` (what GitHub's environments view shows).
    pub async fn set_status(&self, id: u64, status: &NewStatus<'_>) -> Result<(), GitHubError> {
        let mut body = json!({
            "state": status.state.as_str(),
            "description": crate::text::truncate_chars(status.description, DESCRIPTION_MAX_CHARS),
            // GitHub's default would mark every other service's record in the
            // environment inactive: Ferry keeps one history per service.
            "auto_inactive": false,
        });
        if let Some(url) = status.log_url {
            body["log_url"] = json!(url);
        }
        if let Some(url) = status.environment_url {
            body["environment_url"] = json!(url);
        }
        let path = format!("{}/{id}/statuses", self.deployments_path());
        // Adding the same status twice is harmless: retried like a read.
        self.post::<Value>(&path, &body, Retry::Always).await?;
        Ok(())
    }
}

/// One deployment of an environment's history, as `ferry metrics` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRecord {
    /// GitHub's deployment id.
    pub id: u64,
    /// The commit deployed.
    pub sha: String,
    /// The service, from `task: deploy:<service>` (records of other tasks
    /// are not listed).
    pub service: String,
    /// When it was created, seconds since the epoch.
    pub created_at: u64,
}

/// A deployment's newest status, with its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatestStatus {
    /// The state (None: one Ferry does not know).
    pub state: Option<DeploymentState>,
    /// When it was set, seconds since the epoch (None: unreadable).
    pub created_at: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct ApiHistoryDeployment {
    id: u64,
    sha: String,
    #[serde(default)]
    task: String,
    #[serde(default)]
    created_at: String,
    #[serde(default)]
    creator: Option<Author>,
}

impl GitHub {
    /// Ferry's deployments to `environment` (every service), newest first:
    /// all those created at or after `since`, then up to `lookback` older
    /// ones (they give each service's previous release), at most `max` in
    /// all. Records whose task is not `deploy:<service>` are skipped.
    pub async fn environment_history(
        &self,
        environment: &str,
        since: u64,
        lookback: usize,
        max: usize,
    ) -> Result<Vec<HistoryRecord>, GitHubError> {
        let mut listing = super::Listing::new(
            format!(
                "{}?environment={}&per_page=100",
                self.deployments_path(),
                encode(environment)
            ),
            max,
        );
        let mut out: Vec<HistoryRecord> = Vec::new();
        let mut older = 0usize;
        while let Some(page) = listing.next_page::<ApiHistoryDeployment>(self).await? {
            for d in page {
                let Some(created_at) = crate::time::parse_time(&d.created_at) else {
                    continue;
                };
                if created_at < since {
                    older += 1;
                }
                if let Some(service) = d.task.strip_prefix("deploy:")
                    && !service.is_empty()
                    && self.trusted_history(&d)
                {
                    out.push(HistoryRecord {
                        id: d.id,
                        sha: d.sha,
                        service: service.to_string(),
                        created_at,
                    });
                }
            }
            if older >= lookback {
                listing.stop();
            }
        }
        Ok(out)
    }

    /// Whether a history record was made by a trusted author (warns if not).
    fn trusted_history(&self, d: &ApiHistoryDeployment) -> bool {
        let ok = self.trusted.trusts(d.creator.as_ref());
        if !ok {
            trust::warn_ignored(
                &format!("deployment {} ({})", d.id, crate::text::quote(&d.task)),
                d.creator.as_ref(),
                &self.trusted,
            );
        }
        ok
    }

    /// A deployment's newest status set by a trusted author, and when it
    /// was set.
    pub async fn latest_status(&self, id: u64) -> Result<Option<LatestStatus>, GitHubError> {
        Ok(self.trusted_status(id).await?.map(|s| LatestStatus {
            state: match s.state {
                DeploymentStateOrOther::Known(k) => Some(k),
                DeploymentStateOrOther::Other(_) => None,
            },
            created_at: crate::time::parse_time(&s.created_at),
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn payloads_parse_from_objects_and_strings_and_foreign_ones_are_none() {
        let p = DeploymentPayload {
            service: "api".into(),
            image: Some("r@sha256:ab".into()),
            task_definition_arn: Some("arn:x".into()),
        };
        let object = serde_json::to_value(&p).unwrap();
        assert_eq!(parse_payload(&object), Some(p.clone()));
        assert_eq!(parse_payload(&Value::String(object.to_string())), Some(p));
        assert_eq!(parse_payload(&json!({})), None);
        assert_eq!(parse_payload(&json!("not json")), None);
        assert_eq!(parse_payload(&Value::Null), None);
    }
}
