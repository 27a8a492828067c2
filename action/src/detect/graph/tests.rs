use super::*;
use crate::crates::mem_tree::MemTree;

fn manifest(services: &[&str]) -> Manifest {
    let mut text = String::from(
        "project: p\nregion: eu-west-1\nenvironments:\n  staging: { cluster: c }\nservices:\n",
    );
    for s in services {
        text.push_str(&format!("  {s}: {{}}\n"));
    }
    Manifest::parse(&text, std::path::Path::new("ferry.yml")).unwrap()
}

fn reasons(tree: &MemTree, m: &Manifest, files: &[&str]) -> Vec<Vec<String>> {
    let g = Graph::load(tree, m, &|_| true);
    let files: Vec<String> = files.iter().map(|f| f.to_string()).collect();
    g.reasons(m, &files, tree, Some(tree))
        .0
        .iter()
        .map(|r| r.iter().map(ToString::to_string).collect())
        .collect()
}

#[test]
fn go_replace_and_workspace_edges() {
    let tree = MemTree::new(&[
        (
            "go.work",
            "go 1.22\nuse (\n ./services/api\n ./services/jobs\n ./libs/auth\n)\n",
        ),
        (
            "services/api/go.mod",
            "module example.com/api\nrequire example.com/common v0.0.0\nreplace example.com/common => ../../libs/common\n",
        ),
        (
            "services/jobs/go.mod",
            "module example.com/jobs\nrequire example.com/auth v0.0.0\n",
        ),
        ("services/web/go.mod", "module example.com/web\n"),
        ("libs/common/go.mod", "module example.com/common\n"),
        (
            "libs/auth/go.mod",
            "module example.com/auth\nrequire example.com/common v0.0.0\nreplace example.com/common => ../common\n",
        ),
    ]);
    let m = manifest(&["api", "jobs", "web"]);
    let r = reasons(&tree, &m, &["libs/common/x.go", "libs/common/x_test.go"]);
    assert_eq!(
        r[0],
        ["depends on Go module `example.com/common`, which changed: libs/common/x.go"]
    );
    assert_eq!(
        r[1],
        ["depends on Go module `example.com/common`, which changed: libs/common/x.go"]
    );
    assert!(r[2].is_empty());
    let r = reasons(&tree, &m, &["libs/auth/auth.go"]);
    assert_eq!(
        r[1],
        ["depends on Go module `example.com/auth`, which changed: libs/auth/auth.go"]
    );
    assert!(r[0].is_empty() && r[2].is_empty());
}

#[test]
fn a_half_written_project_file_marks_its_language_with_the_reason() {
    let tree = MemTree::new(&[
        (
            "services/api/go.mod",
            "module example.com/api\nrequire (\n example.com/common v0.0.0\n",
        ),
        ("services/web/package.json", "{\"name\": \"web\"}"),
    ]);
    let m = manifest(&["api", "web"]);
    let g = Graph::load(&tree, &m, &|_| true);
    assert_eq!(g.broken.len(), 1);
    assert!(
        g.warnings()[0].contains(
            "services/api/go.mod cannot be read (line 2: the `require (` block is never closed"
        ),
        "{:?}",
        g.warnings()
    );
    let r = reasons(&tree, &m, &["services/api/main.go"]);
    assert!(
        r[0][0].starts_with("services/api/go.mod cannot be read"),
        "{r:?}"
    );
    assert!(r[1].is_empty());
}

#[test]
fn a_single_root_go_module_is_every_service_s_and_its_requirements_are_read() {
    let tree = MemTree::new(&[
        (
            "go.mod",
            "module example.com/mono\nrequire golang.org/x/net v0.21.0\n",
        ),
        ("services/api/main.go", "package main\n"),
    ]);
    let m = manifest(&["api"]);
    let g = Graph::load(&tree, &m, &|_| true);
    let base = MemTree::new(&[(
        "go.mod",
        "module example.com/mono\nrequire golang.org/x/net v0.20.0\n",
    )]);
    let r = g.reasons(&m, &["go.mod".into()], &tree, Some(&base)).0;
    assert_eq!(
        r[0][0].to_string(),
        "go.mod: golang.org/x/net v0.20.0 → v0.21.0"
    );
    let (r, notes) = g.reasons(&m, &["go.sum".into()], &tree, Some(&tree));
    assert!(r[0].is_empty());
    assert!(
        notes[0].contains("go.sum changed but go.mod did not"),
        "{notes:?}"
    );
}
