//! `ferry detect` on small real Go, JavaScript and Python workspaces in
//! temp git repositories: a change in a shared package marks exactly its
//! dependents, with the reason; a lockfile change marks the services whose
//! resolved versions changed; a half-written project file is named, never
//! a silent "nothing affected". Also the language-free path groups.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use support::{Repo, ferry};

fn manifest(services: &[&str], extra: &str) -> String {
    let mut text = format!(
        "project: shop\nregion: us-east-1\n{extra}environments:\n  staging: {{ cluster: shop-staging }}\nservices:\n"
    );
    for s in services {
        text.push_str(&format!("  {s}: {{}}\n"));
    }
    text
}

fn detect(r: &Repo, base: &str) -> support::Run {
    let run = ferry(r.path(), &["detect", "--base", base]);
    assert_eq!(run.code, 0, "{run:#?}");
    run
}

/// The summary's row of a service, as read: without the zero-width space
/// that keeps `@scope` from being a mention, backticks unescaped.
fn row(run: &support::Run, service: &str) -> String {
    let start = format!("| `{service}` |");
    run.summary
        .lines()
        .find(|l| l.starts_with(&start))
        .unwrap_or_else(|| panic!("no row for {service} in {}", run.summary))
        .replace('\u{200b}', "")
        .replace("&#96;", "`")
}

/// go.work with three services: `api` on `common` through the workspace,
/// `jobs` on `auth` through a `replace` (and `auth` on `common`), `ping`
/// on nothing.
fn go_repo() -> (Repo, String) {
    let r = Repo::new();
    r.write(".github/ferry.yml", &manifest(&["api", "jobs", "ping"], ""))
        .write(
            "go.work",
            "go 1.22\n\nuse (\n\t./services/api\n\t./services/jobs\n\t./services/ping\n\t./libs/common\n)\n",
        )
        .write(
            "services/api/go.mod",
            "module example.com/api\n\ngo 1.22\n\nrequire example.com/common v0.0.0\n",
        )
        .write("services/api/main.go", "package main\n\nfunc main() {}\n")
        .write(
            "services/jobs/go.mod",
            "module example.com/jobs\n\ngo 1.22\n\nrequire (\n\texample.com/auth v0.0.0\n\tgolang.org/x/sync v0.7.0\n)\n\nreplace example.com/auth => ../../libs/auth\n",
        )
        .write("services/jobs/main.go", "package main\n\nfunc main() {}\n")
        .write("services/ping/go.mod", "module example.com/ping\n\ngo 1.22\n")
        .write("services/ping/main.go", "package main\n\nfunc main() {}\n")
        .write("libs/common/go.mod", "module example.com/common\n\ngo 1.22\n")
        .write("libs/common/common.go", "package common\n")
        .write(
            "libs/auth/go.mod",
            "module example.com/auth\n\ngo 1.22\n\nrequire example.com/common v0.0.0\n\nreplace example.com/common => ../common\n",
        )
        .write("libs/auth/auth.go", "package auth\n");
    let base = r.commit("go workspace");
    (r, base)
}

#[test]
fn go_a_shared_module_marks_exactly_its_dependents() {
    let (r, base) = go_repo();
    r.write("libs/common/common.go", "package common\n\nconst V = 2\n");
    r.commit("change common");
    let run = detect(&r, &base);
    assert_eq!(run.services(), ["api", "jobs"]);
    assert_eq!(
        row(&run, "api"),
        "| `api` | yes | depends on Go module `example.com/common`, which changed: libs/common/common.go |"
    );
    assert!(row(&run, "jobs").contains("depends on Go module `example.com/common`"));
    assert_eq!(row(&run, "ping"), "| `ping` | no |  |");

    let head = r.git(&["rev-parse", "HEAD"]).trim().to_string();
    r.write("libs/auth/auth.go", "package auth\n\nconst V = 2\n")
        .write("libs/auth/auth_test.go", "package auth\n");
    r.commit("change auth");
    let run = detect(&r, &head);
    assert_eq!(run.services(), ["jobs"]);
    assert_eq!(
        row(&run, "jobs"),
        "| `jobs` | yes | depends on Go module `example.com/auth`, which changed: libs/auth/auth.go |"
    );
}

#[test]
fn go_a_half_written_go_mod_is_named_and_its_language_affected() {
    let (r, base) = go_repo();
    r.write(
        "libs/common/go.mod",
        "module example.com/common\n\nrequire (\n\tgolang.org/x/text v0.14.0\n",
    );
    r.commit("half-written go.mod");
    let run = detect(&r, &base);
    assert_eq!(run.services(), ["api", "jobs", "ping"]);
    for s in ["api", "jobs", "ping"] {
        assert!(
            row(&run, s).contains("libs/common/go.mod cannot be read (line 3: the `require (` block is never closed with `)`) and its folder changed"),
            "{}",
            row(&run, s)
        );
    }
    assert!(
        run.stdout.contains("::warning")
            || run.stderr.contains("libs/common/go.mod cannot be read"),
        "{run:#?}"
    );
}

/// An npm workspace: `web` on `@shop/ui`, which is on `@shop/common`;
/// `admin` on nothing local; a v3 package-lock.json.
fn npm_repo(express_admin: &str) -> Repo {
    let r = Repo::new();
    r.write(".github/ferry.yml", &manifest(&["web", "admin"], ""))
        .write(
            "package.json",
            r#"{"name": "shop", "private": true, "workspaces": ["services/*", "libs/*"]}"#,
        )
        .write(
            "services/web/package.json",
            r#"{"name": "web", "dependencies": {"@shop/ui": "^1.0.0", "left-pad": "^1.3.0"}}"#,
        )
        .write("services/web/index.js", "require('@shop/ui')\n")
        .write(
            "services/admin/package.json",
            r#"{"name": "admin", "dependencies": {"express": "^4.18.0"}}"#,
        )
        .write("services/admin/index.js", "require('express')\n")
        .write(
            "libs/ui/package.json",
            r#"{"name": "@shop/ui", "version": "1.0.0", "dependencies": {"@shop/common": "1.0.0"}}"#,
        )
        .write("libs/ui/index.js", "module.exports = 1\n")
        .write(
            "libs/common/package.json",
            r#"{"name": "@shop/common", "version": "1.0.0"}"#,
        )
        .write("libs/common/index.js", "module.exports = 1\n")
        .write("libs/common/README.md", "# common\n")
        .write(
            "package-lock.json",
            &format!(
                r#"{{"name": "shop", "lockfileVersion": 3, "requires": true, "packages": {{
  "": {{"name": "shop", "workspaces": ["services/*", "libs/*"]}},
  "libs/common": {{"name": "@shop/common", "version": "1.0.0"}},
  "libs/ui": {{"name": "@shop/ui", "version": "1.0.0", "dependencies": {{"@shop/common": "1.0.0"}}}},
  "services/web": {{"name": "web", "dependencies": {{"@shop/ui": "^1.0.0", "left-pad": "^1.3.0"}}}},
  "services/admin": {{"name": "admin", "dependencies": {{"express": "^4.18.0"}}}},
  "node_modules/@shop/common": {{"resolved": "libs/common", "link": true}},
  "node_modules/@shop/ui": {{"resolved": "libs/ui", "link": true}},
  "node_modules/web": {{"resolved": "services/web", "link": true}},
  "node_modules/admin": {{"resolved": "services/admin", "link": true}},
  "node_modules/left-pad": {{"version": "1.3.0"}},
  "node_modules/express": {{"version": "{express_admin}", "dependencies": {{"ms": "2.1.3"}}}},
  "node_modules/ms": {{"version": "2.1.3"}}
}}}}"#
            ),
        );
    r
}

#[test]
fn npm_a_shared_package_marks_exactly_its_dependents() {
    let r = npm_repo("4.18.0");
    let base = r.commit("npm workspace");
    r.write("libs/common/index.js", "module.exports = 2\n")
        .write("libs/common/README.md", "# common, documented\n");
    r.commit("change common");
    let run = detect(&r, &base);
    assert_eq!(run.services(), ["web"]);
    assert_eq!(
        row(&run, "web"),
        "| `web` | yes | depends on package `@shop/common`, which changed: libs/common/index.js |"
    );
}

#[test]
fn npm_a_lockfile_bump_marks_the_services_whose_versions_changed() {
    let r = npm_repo("4.18.0");
    let base = r.commit("npm workspace");
    let bumped = npm_repo("4.19.2");
    std::fs::copy(
        bumped.path().join("package-lock.json"),
        r.path().join("package-lock.json"),
    )
    .unwrap();
    r.commit("bump express");
    let run = detect(&r, &base);
    assert_eq!(run.services(), ["admin"]);
    assert_eq!(
        row(&run, "admin"),
        "| `admin` | yes | package-lock.json: express 4.18.0 → 4.19.2 |"
    );
}

#[test]
fn pnpm_workspace_protocol_and_its_lockfile() {
    let lock = |left_pad: &str| {
        format!(
            "lockfileVersion: '9.0'\nimporters:\n  .: {{}}\n  services/web:\n    dependencies:\n      '@shop/common':\n        specifier: workspace:*\n        version: link:../../libs/common\n  services/admin:\n    dependencies:\n      ms:\n        specifier: ^2\n        version: 2.1.3\n  libs/common:\n    dependencies:\n      left-pad:\n        specifier: ^1\n        version: {left_pad}\npackages:\n  left-pad@{left_pad}: {{resolution: {{integrity: sha512-x}}}}\n  ms@2.1.3: {{resolution: {{integrity: sha512-y}}}}\nsnapshots:\n  left-pad@{left_pad}: {{}}\n  ms@2.1.3: {{}}\n"
        )
    };
    let r = Repo::new();
    r.write(".github/ferry.yml", &manifest(&["web", "admin"], ""))
        .write("package.json", r#"{"name": "shop", "private": true}"#)
        .write(
            "pnpm-workspace.yaml",
            "packages:\n  - 'services/*'\n  - 'libs/*'\n",
        )
        .write(
            "services/web/package.json",
            r#"{"name": "web", "dependencies": {"@shop/common": "workspace:*"}}"#,
        )
        .write("services/web/index.js", "1\n")
        .write(
            "services/admin/package.json",
            r#"{"name": "admin", "dependencies": {"ms": "^2"}}"#,
        )
        .write("services/admin/index.js", "1\n")
        .write(
            "libs/common/package.json",
            r#"{"name": "@shop/common", "dependencies": {"left-pad": "^1"}}"#,
        )
        .write("libs/common/index.js", "1\n")
        .write("pnpm-lock.yaml", &lock("1.3.0"));
    let base = r.commit("pnpm workspace");
    r.write("libs/common/index.js", "2\n");
    r.commit("change common");
    let run = detect(&r, &base);
    assert_eq!(run.services(), ["web"]);
    assert!(
        row(&run, "web")
            .contains("depends on package `@shop/common`, which changed: libs/common/index.js")
    );

    let head = r.git(&["rev-parse", "HEAD"]).trim().to_string();
    r.write("pnpm-lock.yaml", &lock("1.3.1"));
    r.commit("bump left-pad");
    let run = detect(&r, &head);
    assert_eq!(run.services(), ["web"]);
    assert_eq!(
        row(&run, "web"),
        "| `web` | yes | pnpm-lock.yaml: left-pad 1.3.0 → 1.3.1 |"
    );
}

#[test]
fn yarn_workspaces_and_a_lockfile_that_cannot_tell() {
    let r = Repo::new();
    r.write(".github/ferry.yml", &manifest(&["web", "admin", "jobs"], ""))
        .write(
            "package.json",
            r#"{"name": "shop", "private": true, "workspaces": {"packages": ["services/*", "libs/*"]}}"#,
        )
        .write(
            "services/web/package.json",
            r#"{"name": "web", "dependencies": {"@shop/common": "*"}}"#,
        )
        .write("services/web/index.js", "1\n")
        .write("services/admin/package.json", r#"{"name": "admin"}"#)
        .write("services/admin/index.js", "1\n")
        .write("services/jobs/pyproject.toml", "[project]\nname = \"jobs\"\n")
        .write("services/jobs/main.py", "\n")
        .write("libs/common/package.json", r#"{"name": "@shop/common"}"#)
        .write("libs/common/index.js", "1\n")
        .write("yarn.lock", "# yarn lockfile v1\n");
    let base = r.commit("yarn workspace");
    r.write("libs/common/index.js", "2\n").write(
        "yarn.lock",
        "# yarn lockfile v1\n\nms@^2:\n  version \"2.1.3\"\n",
    );
    r.commit("change common and the lockfile");
    let run = detect(&r, &base);
    assert_eq!(run.services(), ["web", "admin"]);
    assert!(
        row(&run, "web")
            .contains("depends on package `@shop/common`, which changed: libs/common/index.js")
    );
    assert_eq!(
        row(&run, "admin"),
        "| `admin` | yes | yarn.lock changed and Ferry cannot tell from yarn.lock which package uses which version: every service using it is affected |"
    );
}

/// A uv workspace: `jobs` on `shop-common` (a workspace member), `report`
/// on `shop-pdf` by path; a uv.lock.
fn uv_repo(httpx: &str) -> Repo {
    let r = Repo::new();
    r.write(".github/ferry.yml", &manifest(&["jobs", "report"], ""))
        .write(
            "pyproject.toml",
            "[tool.uv.workspace]\nmembers = [\"services/*\", \"libs/common\"]\n",
        )
        .write(
            "services/jobs/pyproject.toml",
            "[project]\nname = \"jobs\"\nversion = \"0.1.0\"\ndependencies = [\"shop-common\", \"httpx>=0.27\"]\n\n[tool.uv.sources]\nshop-common = { workspace = true }\n",
        )
        .write("services/jobs/main.py", "import shop_common\n")
        .write(
            "services/report/pyproject.toml",
            "[project]\nname = \"report\"\nversion = \"0.1.0\"\ndependencies = [\"shop-pdf\"]\n\n[tool.uv.sources]\nshop-pdf = { path = \"../../libs/pdf\", editable = true }\n",
        )
        .write("services/report/main.py", "import shop_pdf\n")
        .write(
            "libs/common/pyproject.toml",
            "[project]\nname = \"shop_common\"\nversion = \"0.1.0\"\n",
        )
        .write("libs/common/shop_common/__init__.py", "\n")
        .write(
            "libs/pdf/pyproject.toml",
            "[project]\nname = \"shop-pdf\"\nversion = \"0.1.0\"\n",
        )
        .write("libs/pdf/shop_pdf/__init__.py", "\n")
        .write(
            "uv.lock",
            &format!(
                "version = 1\nrequires-python = \">=3.12\"\n\n[manifest]\nmembers = [\"jobs\", \"report\", \"shop-common\"]\n\n[[package]]\nname = \"jobs\"\nversion = \"0.1.0\"\nsource = {{ editable = \"services/jobs\" }}\ndependencies = [\n    {{ name = \"httpx\" }},\n    {{ name = \"shop-common\" }},\n]\n\n[[package]]\nname = \"report\"\nversion = \"0.1.0\"\nsource = {{ editable = \"services/report\" }}\ndependencies = [{{ name = \"shop-pdf\" }}]\n\n[[package]]\nname = \"shop-common\"\nversion = \"0.1.0\"\nsource = {{ editable = \"libs/common\" }}\n\n[[package]]\nname = \"shop-pdf\"\nversion = \"0.1.0\"\nsource = {{ directory = \"libs/pdf\" }}\n\n[[package]]\nname = \"httpx\"\nversion = \"{httpx}\"\nsource = {{ registry = \"https://pypi.org/simple\" }}\n"
            ),
        );
    r
}

#[test]
fn python_workspace_members_and_path_dependencies_mark_exactly_their_dependents() {
    let r = uv_repo("0.27.0");
    let base = r.commit("uv workspace");
    r.write("libs/common/shop_common/__init__.py", "V = 2\n");
    r.commit("change common");
    let run = detect(&r, &base);
    assert_eq!(run.services(), ["jobs"]);
    assert_eq!(
        row(&run, "jobs"),
        "| `jobs` | yes | depends on Python project `shop-common`, which changed: libs/common/shop_common/\\_\\_init\\_\\_.py |"
    );

    let head = r.git(&["rev-parse", "HEAD"]).trim().to_string();
    r.write("libs/pdf/shop_pdf/__init__.py", "V = 2\n");
    r.commit("change pdf");
    let run = detect(&r, &head);
    assert_eq!(run.services(), ["report"]);
    assert!(row(&run, "report").contains("depends on Python project `shop-pdf`"));
}

#[test]
fn python_a_uv_lock_bump_marks_the_services_whose_versions_changed() {
    let r = uv_repo("0.27.0");
    let base = r.commit("uv workspace");
    let bumped = uv_repo("0.28.1");
    std::fs::copy(bumped.path().join("uv.lock"), r.path().join("uv.lock")).unwrap();
    r.commit("bump httpx");
    let run = detect(&r, &base);
    assert_eq!(run.services(), ["jobs"]);
    assert_eq!(
        row(&run, "jobs"),
        "| `jobs` | yes | uv.lock: httpx 0.27.0 → 0.28.1 |"
    );
}

#[test]
fn python_a_half_written_lockfile_marks_every_service_using_it_saying_so() {
    let r = uv_repo("0.27.0");
    let base = r.commit("uv workspace");
    r.write("uv.lock", "version = 1\n[[package]\nname = \"httpx\"\n");
    r.commit("conflict markers");
    let run = detect(&r, &base);
    assert_eq!(run.services(), ["jobs", "report"]);
    assert!(
        row(&run, "report")
            .contains("uv.lock changed and its head version cannot be read: not valid TOML"),
        "{}",
        row(&run, "report")
    );
}

/// The issue's monorepo: `api` in Go, `web` in Node, `jobs` in Python, and
/// a shared `libs/common` that `api` and `jobs` include as a path group.
#[test]
fn a_path_group_marks_the_services_that_include_it() {
    let r = Repo::new();
    r.write(
        ".github/ferry.yml",
        "project: shop\nregion: us-east-1\npath-groups:\n  common: [libs/common/**]\nenvironments:\n  staging: { cluster: shop-staging }\nservices:\n  api:\n    paths: [services/api/**, group:common]\n  web: {}\n  jobs:\n    paths: [services/jobs/**, group:common]\n",
    )
    .write("services/api/go.mod", "module example.com/api\n")
    .write("services/web/package.json", r#"{"name": "web"}"#)
    .write("services/jobs/pyproject.toml", "[project]\nname = \"jobs\"\n")
    .write("libs/common/schema.sql", "create table t ();\n");
    let base = r.commit("three languages");
    r.write("libs/common/schema.sql", "create table t (id int);\n");
    r.commit("change the shared schema");
    let run = detect(&r, &base);
    assert_eq!(run.services(), ["api", "jobs"]);
    assert_eq!(
        row(&run, "api"),
        "| `api` | yes | matches `libs/common/** (group:common)`: libs/common/schema.sql |"
    );

    // Changing the group itself changes the services that include it.
    let head = r.git(&["rev-parse", "HEAD"]).trim().to_string();
    let text = std::fs::read_to_string(r.path().join(".github/ferry.yml")).unwrap();
    r.write(
        ".github/ferry.yml",
        &text.replace("[libs/common/**]", "[libs/common/**, libs/schema/**]"),
    )
    .write("libs/schema/a.sql", "\n");
    r.commit("widen the group");
    let run = detect(&r, &head);
    assert_eq!(run.services(), ["api", "jobs"]);
    assert!(row(&run, "jobs").contains("its entry in the manifest changed"));
}
