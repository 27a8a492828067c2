//! A STATEFUL GitHub stand-in for binary-level tests of `deploy`, `gate`
//! and `release`: a wiremock server whose one responder holds deployments
//! (with their statuses, payload, sha, environment and task), the commit →
//! pull request mapping and issue comments, and answers the REST calls Ferry
//! makes as GitHub would:
//!
//! - `GET/POST /repos/{o}/{r}/deployments` (`environment`, `task`, `sha`,
//!   `ref` filters; newest first; `per_page`/`page` with a `Link` header),
//! - `GET/POST /repos/{o}/{r}/deployments/{id}/statuses` (newest first),
//! - `GET /repos/{o}/{r}/commits/{sha}/pulls`,
//! - `GET /repos/{o}/{r}/git/matching-refs/{prefix}` (the merge queue's
//!   branches, [`GitHubState::set_refs`]),
//! - `GET /repos/{o}/{r}/git/commits/{sha}` (its first parent,
//!   [`GitHubState::set_parent`]; 404 for another commit),
//! - `GET/POST /repos/{o}/{r}/issues/{n}/comments`,
//!   `PATCH /repos/{o}/{r}/issues/comments/{id}`.
//!
//! Every record has an author, as on GitHub: the identity of the token that
//! wrote it ([`TOKEN`] is `github-actions[bot]`, a `Bot`; [`APP_TOKEN`] a
//! GitHub App's bot; [`MALLORY_TOKEN`] an outsider who may comment but
//! edit only their own comments; [`WENDY_TOKEN`] a user with write
//! access, who may edit anyone's comment). A comment's `updated_at` moves
//! on every edit; a forbidden edit answers 403.
//!
//! Why it exists: Prism (on GitHub's OpenAPI description) validates requests
//! but is stateless — it answers every call with the spec's example, so a
//! deploy cannot find the record it made, the gate cannot see staging's
//! success and a re-run cannot find its comment. Tests therefore run against
//! this stand-in and then replay everything it received to Prism with
//! [`assert_valid_github_api`], which fails on any request that is not valid
//! GitHub API.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The token tests give Ferry (it must appear in no output): the job's
/// `GITHUB_TOKEN`, whose records GitHub shows as `github-actions[bot]`.
pub const TOKEN: &str = "ghs_statefulstandintoken";
/// A GitHub App installation's token: records by `ferry-release[bot]`.
pub const APP_TOKEN: &str = "ghs_appinstallationtoken";
/// An outsider's token (`mallory`, a `User` without write access).
pub const MALLORY_TOKEN: &str = "ghp_mallorystoken";
/// A writer's token (`wendy`, a `User` with write access).
pub const WENDY_TOKEN: &str = "ghp_wendystoken";

/// Who a record is by, as GitHub shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Who {
    pub login: &'static str,
    pub kind: &'static str,
    /// May edit other authors' comments.
    pub writer: bool,
}

/// `github-actions[bot]`, the identity of [`TOKEN`].
pub const ACTIONS_BOT: Who = Who {
    login: "github-actions[bot]",
    kind: "Bot",
    writer: true,
};
/// `ferry-release[bot]`, the identity of [`APP_TOKEN`].
pub const APP_BOT: Who = Who {
    login: "ferry-release[bot]",
    kind: "Bot",
    writer: true,
};
/// `mallory`, the identity of [`MALLORY_TOKEN`].
pub const MALLORY: Who = Who {
    login: "mallory",
    kind: "User",
    writer: false,
};
/// `wendy`, the identity of [`WENDY_TOKEN`].
pub const WENDY: Who = Who {
    login: "wendy",
    kind: "User",
    writer: true,
};

impl Who {
    /// The identity a request's token stands for (None: no or unknown token).
    fn of(request: &Request) -> Option<Who> {
        let auth = request.headers.get("authorization")?.to_str().ok()?;
        let token = auth.split_whitespace().last()?;
        [
            (TOKEN, ACTIONS_BOT),
            (APP_TOKEN, APP_BOT),
            (MALLORY_TOKEN, MALLORY),
            (WENDY_TOKEN, WENDY),
        ]
        .into_iter()
        .find(|(t, _)| *t == token)
        .map(|(_, w)| w)
    }

    fn json(&self) -> Value {
        let id = self.login.bytes().map(u64::from).sum::<u64>();
        json!({
            "login": self.login, "id": id, "node_id": format!("U_{id}"),
            "avatar_url": "https://github.com/images/error/octocat_happy.gif",
            "gravatar_id": "", "url": format!("https://api.github.com/users/{}", self.login),
            "html_url": format!("https://github.com/{}", self.login),
            "type": self.kind, "site_admin": false,
        })
    }
}

/// A deployment status as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentStatus {
    pub id: u64,
    pub state: String,
    pub description: String,
    pub log_url: Option<String>,
    pub environment_url: Option<String>,
    pub created_at: String,
    pub creator: Who,
}

/// A deployment as stored (statuses oldest first).
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    pub id: u64,
    pub sha: String,
    pub git_ref: String,
    pub task: String,
    pub environment: String,
    pub payload: Value,
    pub description: String,
    pub production_environment: bool,
    pub created_at: String,
    pub statuses: Vec<DeploymentStatus>,
    pub creator: Who,
}

impl Deployment {
    /// The newest status's state.
    pub fn state(&self) -> Option<&str> {
        self.statuses.last().map(|s| s.state.as_str())
    }

    /// The states, oldest first.
    pub fn states(&self) -> Vec<&str> {
        self.statuses.iter().map(|s| s.state.as_str()).collect()
    }

    fn json(&self, repo: &str) -> Value {
        json!({
            "url": format!("https://api.github.com/repos/{repo}/deployments/{}", self.id),
            "id": self.id,
            "node_id": format!("DE_{}", self.id),
            "sha": self.sha,
            "ref": self.git_ref,
            "task": self.task,
            "payload": self.payload,
            "original_environment": self.environment,
            "environment": self.environment,
            "description": self.description,
            "creator": self.creator.json(),
            "created_at": self.created_at,
            "updated_at": self.created_at,
            "statuses_url": format!("https://api.github.com/repos/{repo}/deployments/{}/statuses", self.id),
            "repository_url": format!("https://api.github.com/repos/{repo}"),
            "transient_environment": false,
            "production_environment": self.production_environment,
        })
    }
}

/// An issue comment as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub id: u64,
    pub issue: u64,
    pub body: String,
    /// How many times it was edited.
    pub edits: usize,
    pub user: Who,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    deployments: Vec<Deployment>,
    pulls: BTreeMap<String, Vec<u64>>,
    comments: Vec<Comment>,
    /// Branches (`refs/heads/...`) and the commits they point at.
    refs: Vec<(String, String)>,
    /// Commit → its first parent.
    parents: BTreeMap<String, String>,
}

impl State {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

/// The running stand-in. Requests go to `uri()`; `received()` has them all.
pub struct GitHubState {
    pub server: MockServer,
    repo: String,
    state: Arc<Mutex<State>>,
}

/// RFC 3339 (UTC) of epoch seconds, as GitHub writes `created_at`.
pub use ferry::time::rfc3339;

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn now() -> String {
    rfc3339(now_secs())
}

impl GitHubState {
    /// Starts an empty GitHub for repository `repo` (`owner/name`).
    pub async fn start(repo: &str) -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State::default()));
        Mock::given(wiremock::matchers::any())
            .respond_with(Responder {
                repo: repo.to_string(),
                state: state.clone(),
            })
            .mount(&server)
            .await;
        Self {
            server,
            repo: repo.to_string(),
            state,
        }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The environment that points `ferry` at this GitHub in Actions mode.
    pub fn env<'a>(&'a self, uri: &'a str, sha: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", self.repo.as_str()),
            ("GITHUB_API_URL", uri),
            ("GITHUB_TOKEN", TOKEN),
            ("GITHUB_SHA", sha),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_RUN_ID", "4242"),
        ]
    }

    /// Commit `sha` belongs to these pull requests.
    pub fn set_pulls(&self, sha: &str, numbers: &[u64]) {
        self.state
            .lock()
            .unwrap()
            .pulls
            .insert(sha.to_string(), numbers.to_vec());
    }

    /// The repository's branches besides the default one (full ref names,
    /// `refs/heads/gh-readonly-queue/main/pr-7-<sha>`) and their commits.
    pub fn set_refs(&self, refs: &[(&str, &str)]) {
        self.state.lock().unwrap().refs = refs
            .iter()
            .map(|(r, sha)| (r.to_string(), sha.to_string()))
            .collect();
    }

    /// Commit `sha`'s first parent is `parent`.
    pub fn set_parent(&self, sha: &str, parent: &str) {
        self.state
            .lock()
            .unwrap()
            .parents
            .insert(sha.to_string(), parent.to_string());
    }

    /// Seeds a deployment record with these statuses (oldest first), as an
    /// earlier release would have left it; returns its id.
    pub fn seed_deployment(
        &self,
        sha: &str,
        environment: &str,
        service: &str,
        payload: Value,
        states: &[&str],
    ) -> u64 {
        let mut s = self.state.lock().unwrap();
        let id = s.id();
        let statuses = states
            .iter()
            .map(|state| DeploymentStatus {
                id: id * 1000 + 1,
                state: state.to_string(),
                description: String::new(),
                log_url: None,
                environment_url: None,
                created_at: now(),
                creator: ACTIONS_BOT,
            })
            .collect();
        s.deployments.push(Deployment {
            id,
            sha: sha.to_string(),
            git_ref: sha.to_string(),
            task: format!("deploy:{service}"),
            environment: environment.to_string(),
            payload,
            description: String::new(),
            production_environment: false,
            created_at: now(),
            statuses,
            creator: ACTIONS_BOT,
        });
        id
    }

    /// [`seed_deployment`](Self::seed_deployment) by another author (its
    /// statuses too).
    pub fn seed_deployment_by(
        &self,
        who: Who,
        sha: &str,
        environment: &str,
        service: &str,
        payload: Value,
        states: &[&str],
    ) -> u64 {
        let id = self.seed_deployment(sha, environment, service, payload, states);
        let mut s = self.state.lock().unwrap();
        let d = s.deployments.iter_mut().find(|d| d.id == id).unwrap();
        d.creator = who;
        for st in &mut d.statuses {
            st.creator = who;
        }
        id
    }

    /// Adds a status to deployment `id` as `who` would (newest).
    pub fn add_status_by(&self, who: Who, id: u64, state: &str) {
        let mut s = self.state.lock().unwrap();
        let status_id = s.id();
        let d = s.deployments.iter_mut().find(|d| d.id == id).unwrap();
        d.statuses.push(DeploymentStatus {
            id: status_id,
            state: state.to_string(),
            description: String::new(),
            log_url: None,
            environment_url: None,
            created_at: now(),
            creator: who,
        });
    }

    /// Posts a comment on issue `issue` as `who` would; returns its id.
    pub fn seed_comment_by(&self, who: Who, issue: u64, body: &str) -> u64 {
        let mut s = self.state.lock().unwrap();
        let id = s.id();
        s.comments.push(Comment {
            id,
            issue,
            body: body.to_string(),
            edits: 0,
            user: who,
            created_at: now(),
            updated_at: now(),
        });
        id
    }

    /// Edits comment `id` (by whoever wrote it) as `_editor` would,
    /// `later_secs` from now: GitHub keeps the author and moves `updated_at`.
    pub fn edit_comment_by(&self, _editor: Who, id: u64, body: &str, later_secs: u64) {
        let mut s = self.state.lock().unwrap();
        let c = s.comments.iter_mut().find(|c| c.id == id).unwrap();
        c.body = body.to_string();
        c.edits += 1;
        c.updated_at = rfc3339(now_secs() + later_secs);
    }

    /// Seeds a deployment created at `created_at` (epoch seconds) with
    /// statuses set at the given times (oldest first): a recorded history.
    /// Seed oldest first, as GitHub would have received them.
    pub fn seed_deployment_at(
        &self,
        sha: &str,
        environment: &str,
        service: &str,
        created_at: u64,
        statuses: &[(&str, u64)],
    ) -> u64 {
        let mut s = self.state.lock().unwrap();
        let id = s.id();
        let statuses = statuses
            .iter()
            .enumerate()
            .map(|(i, (state, at))| DeploymentStatus {
                id: id * 1000 + i as u64 + 1,
                state: state.to_string(),
                description: String::new(),
                log_url: None,
                environment_url: None,
                created_at: rfc3339(*at),
                creator: ACTIONS_BOT,
            })
            .collect();
        s.deployments.push(Deployment {
            id,
            sha: sha.to_string(),
            git_ref: sha.to_string(),
            task: format!("deploy:{service}"),
            environment: environment.to_string(),
            payload: json!({"service": service}),
            description: String::new(),
            production_environment: false,
            created_at: rfc3339(created_at),
            statuses,
            creator: ACTIONS_BOT,
        });
        id
    }

    /// Every deployment, oldest first.
    pub fn deployments(&self) -> Vec<Deployment> {
        self.state.lock().unwrap().deployments.clone()
    }

    /// The deployments of one environment and service, oldest first.
    pub fn deployments_of(&self, environment: &str, service: &str) -> Vec<Deployment> {
        let task = format!("deploy:{service}");
        self.deployments()
            .into_iter()
            .filter(|d| d.environment == environment && d.task == task)
            .collect()
    }

    /// Every comment, oldest first.
    pub fn comments(&self) -> Vec<Comment> {
        self.state.lock().unwrap().comments.clone()
    }

    /// Every request received so far.
    pub async fn received(&self) -> Vec<Request> {
        self.server.received_requests().await.unwrap_or_default()
    }
}

struct Responder {
    repo: String,
    state: Arc<Mutex<State>>,
}

fn query(request: &Request) -> BTreeMap<String, String> {
    request
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn not_found() -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({
        "message": "Not Found",
        "documentation_url": "https://docs.github.com/rest"
    }))
}

fn invalid(message: &str) -> ResponseTemplate {
    ResponseTemplate::new(422).set_body_json(json!({"message": message}))
}

/// One page of `items` with GitHub's `Link` header when there are more.
fn page(request: &Request, items: Vec<Value>) -> ResponseTemplate {
    let q = query(request);
    let per_page: usize = q
        .get("per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page: usize = q
        .get("page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let total = items.len();
    let body: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let mut response = ResponseTemplate::new(200).set_body_json(body);
    if page * per_page < total {
        let mut next = request.url.clone();
        let pairs: Vec<(String, String)> = q
            .into_iter()
            .filter(|(k, _)| k != "page")
            .chain([("page".to_string(), (page + 1).to_string())])
            .collect();
        next.query_pairs_mut().clear().extend_pairs(pairs);
        response = response.insert_header("link", format!("<{next}>; rel=\"next\"").as_str());
    }
    response
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let prefix = format!("/repos/{}/", self.repo);
        let Some(rest) = request.url.path().strip_prefix(&prefix) else {
            return not_found();
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let Some(who) = Who::of(request) else {
            return ResponseTemplate::new(401).set_body_json(json!({
                "message": "Bad credentials",
                "documentation_url": "https://docs.github.com/rest"
            }));
        };
        let mut s = self.state.lock().unwrap();
        match (request.method.as_str(), parts.as_slice()) {
            ("GET", ["deployments"]) => {
                let q = query(request);
                let matches = |d: &&Deployment| {
                    q.get("environment").is_none_or(|e| *e == d.environment)
                        && q.get("task").is_none_or(|t| *t == d.task)
                        && q.get("sha").is_none_or(|x| *x == d.sha)
                        && q.get("ref").is_none_or(|r| *r == d.git_ref)
                };
                let listed: Vec<Value> = s
                    .deployments
                    .iter()
                    .rev()
                    .filter(matches)
                    .map(|d| d.json(&self.repo))
                    .collect();
                page(request, listed)
            }
            ("POST", ["deployments"]) => {
                let Some(git_ref) = body["ref"].as_str() else {
                    return invalid("ref is required");
                };
                let id = s.id();
                let d = Deployment {
                    id,
                    // Ferry passes the commit itself as `ref`.
                    sha: git_ref.to_string(),
                    git_ref: git_ref.to_string(),
                    task: body["task"].as_str().unwrap_or("deploy").to_string(),
                    environment: body["environment"]
                        .as_str()
                        .unwrap_or("production")
                        .to_string(),
                    payload: body.get("payload").cloned().unwrap_or(json!({})),
                    description: body["description"].as_str().unwrap_or_default().into(),
                    production_environment: body["production_environment"]
                        .as_bool()
                        .unwrap_or(false),
                    created_at: now(),
                    statuses: Vec::new(),
                    creator: who,
                };
                let json = d.json(&self.repo);
                s.deployments.push(d);
                ResponseTemplate::new(201).set_body_json(json)
            }
            (verb, ["deployments", id, "statuses"]) => {
                let Some(index) = id
                    .parse::<u64>()
                    .ok()
                    .and_then(|id| s.deployments.iter().position(|d| d.id == id))
                else {
                    return not_found();
                };
                if verb == "GET" {
                    let listed: Vec<Value> = s.deployments[index]
                        .statuses
                        .iter()
                        .rev()
                        .map(|st| {
                            json!({
                                "id": st.id, "state": st.state, "description": st.description,
                                "log_url": st.log_url, "environment_url": st.environment_url,
                                "created_at": st.created_at, "updated_at": st.created_at,
                                "creator": st.creator.json(),
                            })
                        })
                        .collect();
                    return page(request, listed);
                }
                let Some(state) = body["state"].as_str() else {
                    return invalid("state is required");
                };
                let status_id = s.id();
                let status = DeploymentStatus {
                    id: status_id,
                    state: state.to_string(),
                    description: body["description"].as_str().unwrap_or_default().into(),
                    log_url: body["log_url"].as_str().map(str::to_string),
                    environment_url: body["environment_url"].as_str().map(str::to_string),
                    created_at: now(),
                    creator: who,
                };
                s.deployments[index].statuses.push(status);
                ResponseTemplate::new(201).set_body_json(json!({"id": status_id, "state": state}))
            }
            ("GET", ["commits", sha, "pulls"]) => {
                let numbers = s.pulls.get(*sha).cloned().unwrap_or_default();
                let listed = numbers
                    .iter()
                    .map(|n| json!({"number": n, "state": "open"}))
                    .collect();
                page(request, listed)
            }
            ("GET", ["git", "commits", sha]) => {
                let Some(parent) = s.parents.get(*sha) else {
                    return not_found();
                };
                let url = |kind: &str, sha: &str| {
                    format!(
                        "https://api.github.com/repos/{}/git/{kind}/{sha}",
                        self.repo
                    )
                };
                let person =
                    json!({"name": "GitHub", "email": "noreply@github.com", "date": now()});
                ResponseTemplate::new(200).set_body_json(json!({
                    "sha": sha,
                    "node_id": format!("C_{sha}"),
                    "url": url("commits", sha),
                    "html_url": format!("https://github.com/{}/commit/{sha}", self.repo),
                    "author": person,
                    "committer": person,
                    "tree": {"sha": sha, "url": url("trees", sha)},
                    "message": "Merge pull request",
                    "parents": [{"sha": parent, "url": url("commits", parent), "html_url": format!("https://github.com/{}/commit/{parent}", self.repo)}],
                    "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null},
                }))
            }
            ("GET", ["git", "matching-refs", prefix @ ..]) => {
                let prefix = format!("refs/{}", prefix.join("/").replace("%2F", "/"));
                let listed = s
                    .refs
                    .iter()
                    .filter(|(r, _)| r.starts_with(&prefix))
                    .map(|(r, sha)| {
                        json!({
                            "ref": r,
                            "node_id": format!("REF_{sha}"),
                            "url": format!("https://api.github.com/repos/{}/git/{r}", self.repo),
                            "object": {
                                "type": "commit",
                                "sha": sha,
                                "url": format!("https://api.github.com/repos/{}/git/commits/{sha}", self.repo),
                            },
                        })
                    })
                    .collect();
                page(request, listed)
            }
            (verb, ["issues", number, "comments"]) => {
                let Ok(number) = number.parse::<u64>() else {
                    return not_found();
                };
                if verb == "GET" {
                    let listed = s
                        .comments
                        .iter()
                        .filter(|c| c.issue == number)
                        .map(|c| comment_json(&self.repo, c))
                        .collect();
                    return page(request, listed);
                }
                let Some(text) = body["body"].as_str() else {
                    return invalid("body is required");
                };
                let id = s.id();
                let c = Comment {
                    id,
                    issue: number,
                    body: text.to_string(),
                    edits: 0,
                    user: who,
                    created_at: now(),
                    updated_at: now(),
                };
                let json = comment_json(&self.repo, &c);
                s.comments.push(c);
                ResponseTemplate::new(201).set_body_json(json)
            }
            ("PATCH", ["issues", "comments", id]) => {
                let Some(text) = body["body"].as_str() else {
                    return invalid("body is required");
                };
                let Some(c) = id
                    .parse::<u64>()
                    .ok()
                    .and_then(|id| s.comments.iter_mut().find(|c| c.id == id))
                else {
                    return not_found();
                };
                if c.user != who && !who.writer {
                    return ResponseTemplate::new(403).set_body_json(json!({
                        "message": "You must have write access to edit another user's comment",
                        "documentation_url": "https://docs.github.com/rest"
                    }));
                }
                c.body = text.to_string();
                c.edits += 1;
                c.updated_at = now();
                let json = comment_json(&self.repo, c);
                ResponseTemplate::new(200).set_body_json(json)
            }
            _ => not_found(),
        }
    }
}

fn comment_json(repo: &str, c: &Comment) -> Value {
    json!({
        "id": c.id,
        "node_id": format!("IC_{}", c.id),
        "url": format!("https://api.github.com/repos/{repo}/issues/comments/{}", c.id),
        "body": c.body,
        "html_url": format!("https://github.com/{repo}/pull/{}#issuecomment-{}", c.issue, c.id),
        "issue_url": format!("https://api.github.com/repos/{repo}/issues/{}", c.issue),
        "user": c.user.json(),
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "author_association": if c.user.writer { "MEMBER" } else { "NONE" },
    })
}

/// Replays each recorded request to Prism (PRISM_URL) serving GitHub's
/// OpenAPI description: every one must be valid GitHub API (Prism answers
/// 422 with `sl-violations` otherwise).
pub async fn assert_valid_github_api(requests: &[Request]) {
    let prism = super::testbed_url("PRISM_URL");
    let client = octocrab::Octocrab::builder()
        .base_uri(prism.as_str())
        .unwrap()
        .personal_token("ghs_prismtesttoken".to_string())
        .build()
        .unwrap();
    assert!(!requests.is_empty());
    for r in requests {
        let target = match r.url.query() {
            Some(q) => format!("{}?{q}", r.url.path()),
            None => r.url.path().to_string(),
        };
        let body: Option<Value> = serde_json::from_slice(&r.body).ok();
        let response = match r.method.as_str() {
            "GET" => client._get(target.as_str()).await,
            "POST" => client._post(target.as_str(), body.as_ref()).await,
            "PATCH" => client._patch(target.as_str(), body.as_ref()).await,
            other => panic!("unexpected method {other}"),
        }
        .unwrap();
        let violations = response
            .headers()
            .get("sl-violations")
            .map(|v| v.to_str().unwrap_or_default().to_string())
            .unwrap_or_default();
        assert_ne!(
            response.status().as_u16(),
            422,
            "{} {target} is not valid GitHub API: {violations}",
            r.method
        );
        assert!(
            response.status().is_success(),
            "{} {target}: {}",
            r.method,
            response.status()
        );
    }
}
