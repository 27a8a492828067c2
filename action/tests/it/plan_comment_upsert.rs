//! The comment upsert against a small stateful fake of GitHub's issue
//! comments API (recorded responses in the shape GitHub sends, served from
//! a local socket). Prism on GitHub's OpenAPI, which stores nothing, is the
//! conformance check in `plan_comment_conformance.rs`; this fake covers the
//! stateful parts: find the existing comment across pages, then PATCH it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::plan_comment as plan_comment_support;

use std::sync::{Arc, Mutex};

use ferry::gha::Secret;
use ferry::github::GitHubError;
use ferry::github::comments::{Comments, IssueRef, Upserted};
use ferry::github::retry::RetryPolicy;
use ferry::plan_comment::post::publish_with;
use ferry::plan_comment::{Prepared, counts::Counts};
use ferry::trust::TrustedAuthors;
use plan_comment_support::options;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// The shared GitHub client, with the token as a secret.
fn client(api_url: &str, token: Option<&str>) -> Result<octocrab::Octocrab, GitHubError> {
    ferry::github::client(api_url, token.map(Secret::new).as_ref())
}

#[derive(Default)]
struct State {
    comments: Vec<(u64, String)>,
    requests: Vec<(String, String)>,
    next_id: u64,
    /// Statuses to answer before serving normally (for retry tests).
    failures: Vec<(u16, Option<&'static str>)>,
    labels: Vec<String>,
}

/// Starts the fake on 127.0.0.1; returns its base URL and state.
async fn fake_github(initial: Vec<(u64, String)>) -> (String, Arc<Mutex<State>>) {
    let state = Arc::new(Mutex::new(State {
        comments: initial,
        next_id: 9000,
        ..State::default()
    }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (st, b) = (state.clone(), base.clone());
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let (st, b) = (st.clone(), b.clone());
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut reader = BufReader::new(read);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let (method, path) = (
                        parts.next().unwrap_or("").to_string(),
                        parts.next().unwrap_or("").to_string(),
                    );
                    let mut length = 0;
                    loop {
                        let mut h = String::new();
                        reader.read_line(&mut h).await.unwrap();
                        if h.trim().is_empty() {
                            break;
                        }
                        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).await.unwrap();
                    let (status, headers, reply) =
                        handle(&st, &b, &method, &path, &String::from_utf8_lossy(&body));
                    let text = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{headers}\r\n{reply}",
                        reply.len()
                    );
                    write.write_all(text.as_bytes()).await.unwrap();
                }
            });
        }
    });
    (base, state)
}

fn handle(
    st: &Mutex<State>,
    base: &str,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, String, String) {
    let mut s = st.lock().unwrap();
    s.requests.push((method.to_string(), path.to_string()));
    if !s.failures.is_empty() {
        let (status, retry_after) = s.failures.remove(0);
        let headers = retry_after
            .map(|r| format!("retry-after: {r}\r\n"))
            .unwrap_or_default();
        return (
            status,
            headers,
            json!({"message": "You have exceeded a secondary rate limit"}).to_string(),
        );
    }
    let comment = |id: u64, body: &str| {
        json!({"id": id, "body": body, "html_url": format!("https://github.com/o/r/pull/7#issuecomment-{id}"),
        "user": {"login": "github-actions[bot]", "type": "Bot"}, "updated_at": "2024-05-01T10:00:00Z"})
    };
    let body_of = || {
        serde_json::from_str::<Value>(body).unwrap()["body"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let p = path.split('?').next().unwrap();
    match (method, p) {
        ("GET", "/repos/o/r/issues/7/comments") => {
            // Two pages of 100, then the rest: Link headers like GitHub's.
            let page: usize = path
                .rsplit("&page=")
                .next()
                .and_then(|x| x.parse().ok())
                .unwrap_or(1);
            let items: Vec<Value> = s
                .comments
                .iter()
                .skip((page - 1) * 100)
                .take(100)
                .map(|(id, b)| comment(*id, b))
                .collect();
            let link = if page * 100 < s.comments.len() {
                format!(
                    "link: <{base}/repos/o/r/issues/7/comments?per_page=100&page={}>; rel=\"next\"\r\n",
                    page + 1
                )
            } else {
                String::new()
            };
            (200, link, Value::Array(items).to_string())
        }
        ("POST", "/repos/o/r/issues/7/comments") if body.contains("TOO-LONG") => (
            422,
            String::new(),
            json!({"message": "Validation Failed", "errors": [{"resource": "IssueComment", "code": "custom", "field": "body", "message": "body is too long (maximum is 65536 characters)"}]}).to_string(),
        ),
        ("POST", "/repos/o/r/issues/7/comments") => {
            s.next_id += 1;
            let id = s.next_id;
            let b = body_of();
            s.comments.push((id, b.clone()));
            (201, String::new(), comment(id, &b).to_string())
        }
        ("POST", "/repos/o/r/issues/7/labels") => {
            let v: Value = serde_json::from_str(body).unwrap();
            s.labels.extend(
                v["labels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l.as_str().unwrap().to_string()),
            );
            (200, String::new(), "[]".to_string())
        }
        ("DELETE", p) if p.starts_with("/repos/o/r/issues/7/labels/") => {
            let name = p.rsplit('/').next().unwrap().to_string();
            let before = s.labels.len();
            s.labels.retain(|l| *l != name);
            if s.labels.len() == before {
                (
                    404,
                    String::new(),
                    r#"{"message":"Label does not exist"}"#.into(),
                )
            } else {
                (200, String::new(), "[]".into())
            }
        }
        (m, p) if p.starts_with("/repos/o/r/issues/comments/") => {
            let id: u64 = p.rsplit('/').next().unwrap().parse().unwrap();
            let Some(i) = s.comments.iter().position(|(c, _)| *c == id) else {
                return (404, String::new(), r#"{"message":"Not Found"}"#.into());
            };
            match m {
                "PATCH" => {
                    s.comments[i].1 = body_of();
                    (
                        200,
                        String::new(),
                        comment(id, &s.comments[i].1).to_string(),
                    )
                }
                "DELETE" => {
                    s.comments.remove(i);
                    (204, String::new(), String::new())
                }
                _ => (
                    405,
                    String::new(),
                    r#"{"message":"edit with PATCH"}"#.into(),
                ),
            }
        }
        _ => (404, String::new(), r#"{"message":"Not Found"}"#.into()),
    }
}

fn issue() -> IssueRef {
    IssueRef {
        owner: "o".into(),
        repo: "r".into(),
        number: 7,
    }
}

fn methods(st: &Mutex<State>) -> Vec<String> {
    st.lock()
        .unwrap()
        .requests
        .iter()
        .map(|(m, p)| format!("{m} {}", p.split('?').next().unwrap()))
        .collect()
}

const MARKER: &str = "<!-- ferry:plan:staging -->";

#[tokio::test]
async fn upsert_creates_then_edits_in_place_then_leaves_alone() {
    let (base, st) = fake_github(vec![
        (1, "lgtm".into()),
        (2, format!("> {MARKER}\n> quoted by a reviewer")),
    ])
    .await;
    let crab = client(&base, Some("test-token")).unwrap();
    let issue = issue();
    let trusted = TrustedAuthors::default();
    let c = Comments::new(&crab, &issue, RetryPolicy::fast(), &trusted);
    let first = c.upsert(MARKER, &format!("{MARKER}\nv1")).await.unwrap();
    let Upserted::Created(created) = first else {
        panic!("{first:?}")
    };
    let second = c.upsert(MARKER, &format!("{MARKER}\nv2")).await.unwrap();
    assert_eq!(
        second,
        Upserted::Updated(ferry::github::comments::Comment {
            body: Some(format!("{MARKER}\nv2")),
            ..created.clone()
        })
    );
    let third = c.upsert(MARKER, &format!("{MARKER}\nv2")).await.unwrap();
    assert!(matches!(third, Upserted::Unchanged(_)));
    let s = st.lock().unwrap();
    assert_eq!(s.comments.len(), 3, "one comment added, never two");
    drop(s);
    assert_eq!(
        methods(&st),
        [
            "GET /repos/o/r/issues/7/comments",
            "POST /repos/o/r/issues/7/comments",
            "GET /repos/o/r/issues/7/comments",
            &format!("PATCH /repos/o/r/issues/comments/{}", created.id),
            "GET /repos/o/r/issues/7/comments",
        ]
    );
}

#[tokio::test]
async fn finds_the_marked_comment_on_a_later_page() {
    let mut initial: Vec<(u64, String)> = (1..=230).map(|i| (i, format!("chatter {i}"))).collect();
    initial[215].1 = format!("{MARKER}\nold plan");
    let (base, st) = fake_github(initial).await;
    let crab = client(&base, None).unwrap();
    let issue = issue();
    let done = Comments::new(
        &crab,
        &issue,
        RetryPolicy::fast(),
        &TrustedAuthors::default(),
    )
    .upsert(MARKER, &format!("{MARKER}\nnew plan"))
    .await
    .unwrap();
    assert!(
        matches!(done, Upserted::Updated(ref c) if c.id == 216),
        "{done:?}"
    );
    let m = methods(&st);
    assert_eq!(
        m.iter().filter(|r| r.starts_with("GET")).count(),
        3,
        "{m:?}"
    );
    assert_eq!(m.last().unwrap(), "PATCH /repos/o/r/issues/comments/216");
}

#[tokio::test]
async fn retries_server_errors_and_secondary_rate_limits() {
    let (base, st) = fake_github(vec![]).await;
    st.lock().unwrap().failures = vec![(502, None), (403, Some("0")), (503, None)];
    let crab = client(&base, None).unwrap();
    let issue = issue();
    let done = Comments::new(
        &crab,
        &issue,
        RetryPolicy::fast(),
        &TrustedAuthors::default(),
    )
    .upsert(MARKER, &format!("{MARKER}\nx"))
    .await
    .unwrap();
    assert!(matches!(done, Upserted::Created(_)));
    assert_eq!(st.lock().unwrap().requests.len(), 5);
}

#[tokio::test]
async fn gives_up_after_the_last_attempt_with_the_status() {
    let (base, st) = fake_github(vec![]).await;
    st.lock().unwrap().failures = vec![(500, None); 10];
    let crab = client(&base, None).unwrap();
    let issue = issue();
    let err = Comments::new(
        &crab,
        &issue,
        RetryPolicy::fast(),
        &TrustedAuthors::default(),
    )
    .list()
    .await
    .unwrap_err();
    assert!(err.to_string().contains("HTTP 500"), "{err}");
    assert_eq!(st.lock().unwrap().requests.len(), 4);
}

fn prepared(has_changes: bool, has_destroy: bool) -> Prepared {
    Prepared {
        comment: format!("{MARKER}\nplan"),
        summary: String::new(),
        fallback: format!("{MARKER}\nshort"),
        counts: Counts::default(),
        has_changes,
        has_destroy,
        marker: MARKER.to_string(),
        hash: "sha256:0".into(),
        changes: None,
    }
}

#[tokio::test]
async fn skip_no_changes_deletes_the_previous_comment_and_labels_follow_the_plan() {
    let (base, st) = fake_github(vec![(5, format!("{MARKER}\nold"))]).await;
    let crab = client(&base, None).unwrap();
    let mut opts = options("staging", "plan.json".as_ref());
    opts.labels = true;
    publish_with(
        &crab,
        &issue(),
        RetryPolicy::fast(),
        &TrustedAuthors::default(),
        &opts,
        &prepared(true, true),
    )
    .await
    .unwrap();
    assert_eq!(st.lock().unwrap().labels, ["terraform:staging:destroy"]);
    opts.skip_no_changes = true;
    publish_with(
        &crab,
        &issue(),
        RetryPolicy::fast(),
        &TrustedAuthors::default(),
        &opts,
        &prepared(false, false),
    )
    .await
    .unwrap();
    let s = st.lock().unwrap();
    assert!(s.comments.is_empty(), "the old comment is deleted");
    assert_eq!(s.labels, ["terraform:staging:no-changes"]);
}

#[tokio::test]
async fn a_refused_body_falls_back_to_the_short_version() {
    let (base, st) = fake_github(vec![]).await;
    let crab = client(&base, None).unwrap();
    let mut p = prepared(true, false);
    p.comment = format!("{MARKER}\nTOO-LONG");
    let opts = options("staging", "plan.json".as_ref());
    publish_with(
        &crab,
        &issue(),
        RetryPolicy::fast(),
        &TrustedAuthors::default(),
        &opts,
        &p,
    )
    .await
    .unwrap();
    let s = st.lock().unwrap();
    assert_eq!(s.comments.len(), 1);
    assert_eq!(s.comments[0].1, format!("{MARKER}\nshort"));
}

#[tokio::test]
async fn plan_verify_reads_the_hash_from_the_reviewed_comment() {
    use ferry::plan_comment::{PlanCommentError, load, prepare, verify};
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("plan.json");
    let plan = |input: &str| {
        json!({"format_version": "1.2", "planned_values": {}, "resource_changes": [
            {"address": "terraform_data.a", "mode": "managed", "type": "terraform_data", "name": "a",
             "change": {"actions": ["update"], "before": {"input": "a"}, "after": {"input": input}}}]})
        .to_string()
    };
    std::fs::write(&plan_path, plan("b")).unwrap();
    let opts = options("staging", &plan_path);
    let prepared = prepare(
        load::load_plan(&plan_path, "terraform").unwrap(),
        &opts,
        None,
    )
    .unwrap();
    let (base, _st) = fake_github(vec![(3, "unrelated".into())]).await;
    let crab = client(&base, None).unwrap();
    publish_with(
        &crab,
        &issue(),
        RetryPolicy::fast(),
        &TrustedAuthors::default(),
        &opts,
        &prepared,
    )
    .await
    .unwrap();

    // The run's context: pull request 7 of o/r, the API at the fake.
    let event = json!({"pull_request": {"number": 7,
        "base": {"sha": "a".repeat(40), "ref": "main"}, "head": {"sha": "b".repeat(40)}}});
    let gh = ferry::gha::Context::from_lookup(
        &|k| match k {
            "GITHUB_REPOSITORY" => Some("o/r".into()),
            "GITHUB_API_URL" => Some(base.clone()),
            "GITHUB_EVENT_NAME" => Some("pull_request".into()),
            "GITHUB_EVENT_PATH" => Some("event.json".into()),
            _ => None,
        },
        &|_| Ok(event.to_string()),
    )
    .unwrap();
    let mut reporter = ferry::gha::Reporter::from_context(&gh);
    let hash = verify::run(&gh, &opts, None, &mut reporter).await.unwrap();
    assert_eq!(hash, prepared.hash);
    std::fs::write(&plan_path, plan("c")).unwrap();
    match verify::run(&gh, &opts, None, &mut reporter).await {
        Err(PlanCommentError::PlanChanged { pr: 7, .. }) => {}
        other => panic!("expected PlanChanged, got {other:?}"),
    }
    let mut prod = options("prod", &plan_path);
    prod.pr = Some(7);
    match verify::run(&gh, &prod, None, &mut reporter).await {
        Err(PlanCommentError::NoReviewedPlan { .. }) => {}
        other => panic!("expected NoReviewedPlan, got {other:?}"),
    }
}
