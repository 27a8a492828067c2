//! Python projects: `pyproject.toml` (PEP 621 and Poetry dependencies, uv
//! workspaces and `tool.uv.sources`) for the graph, `uv.lock` for the
//! resolved versions each project uses.

use std::collections::{BTreeMap, BTreeSet};

use toml::Value;

use super::Resolved;

/// A dependency's name as Python compares them (PEP 503): lower case, runs
/// of `-`, `_` and `.` as one `-`.
pub fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            dash = true;
        } else {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The name at the start of a PEP 508 requirement (`requests[socks]>=2; ...`).
fn requirement_name(req: &str) -> &str {
    let req = req.trim_start();
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(req.len());
    &req[..end]
}

/// Where a dependency comes from, per `tool.uv.sources` or Poetry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A member of the uv workspace (`{ workspace = true }`).
    Workspace,
    /// A folder (`{ path = "../common" }`), relative to the pyproject's folder.
    Path(String),
}

/// A parsed `pyproject.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PyProject {
    /// The project's name, normalised (None for a virtual workspace root).
    pub name: Option<String>,
    /// Normalised names of every dependency (main, optional, groups, dev).
    pub deps: BTreeSet<String>,
    /// Normalised name → source.
    pub sources: BTreeMap<String, Source>,
    /// `tool.uv.workspace.members` patterns.
    pub members: Vec<String>,
    /// `tool.uv.workspace.exclude` patterns.
    pub exclude: Vec<String>,
}

fn strings(v: Option<&Value>, what: &str) -> Result<Vec<String>, String> {
    match v {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("`{what}` lists something that is not a string"))
            })
            .collect(),
        Some(_) => Err(format!("`{what}` is not a list")),
    }
}

fn table<'a>(v: Option<&'a Value>, what: &str) -> Result<Option<&'a toml::Table>, String> {
    match v {
        None => Ok(None),
        Some(Value::Table(t)) => Ok(Some(t)),
        Some(_) => Err(format!("`{what}` is not a table")),
    }
}

impl PyProject {
    /// Parses pyproject.toml text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let doc: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| format!("not valid TOML: {}", e.message()))?;
        let project = table(doc.get("project"), "project")?;
        let tool = table(doc.get("tool"), "tool")?;
        let uv = table(tool.and_then(|t| t.get("uv")), "tool.uv")?;
        let poetry = table(tool.and_then(|t| t.get("poetry")), "tool.poetry")?;
        let name = project
            .and_then(|t| t.get("name"))
            .or(poetry.and_then(|t| t.get("name")))
            .map(|n| {
                n.as_str()
                    .map(normalise)
                    .ok_or("`project.name` is not a string")
            })
            .transpose()?;
        let mut p = Self {
            name,
            ..Self::default()
        };
        let reqs = requirements(&doc, project, uv)?;
        for r in &reqs {
            let name = requirement_name(r);
            if name.is_empty() {
                return Err(format!("requirement {r:?} does not start with a name"));
            }
            p.deps.insert(normalise(name));
        }
        if let Some(sources) = table(uv.and_then(|t| t.get("sources")), "tool.uv.sources")? {
            for (k, v) in sources {
                if v.get("workspace").and_then(Value::as_bool) == Some(true) {
                    p.sources.insert(normalise(k), Source::Workspace);
                } else if let Some(path) = v.get("path").and_then(Value::as_str) {
                    p.sources
                        .insert(normalise(k), Source::Path(path.to_string()));
                }
            }
        }
        for t in poetry_tables(poetry)? {
            for (k, v) in t {
                if k == "python" {
                    continue;
                }
                let name = normalise(k);
                p.deps.insert(name.clone());
                if let Some(path) = v.get("path").and_then(Value::as_str) {
                    p.sources.insert(name, Source::Path(path.to_string()));
                }
            }
        }
        let ws = table(uv.and_then(|t| t.get("workspace")), "tool.uv.workspace")?;
        p.members = strings(
            ws.and_then(|w| w.get("members")),
            "tool.uv.workspace.members",
        )?;
        p.exclude = strings(
            ws.and_then(|w| w.get("exclude")),
            "tool.uv.workspace.exclude",
        )?;
        Ok(p)
    }
}

/// Every requirement the project lists (PEP 621 dependencies and optional
/// dependencies, PEP 735 dependency groups, uv's dev-dependencies), as
/// written.
fn requirements(
    doc: &toml::Table,
    project: Option<&toml::Table>,
    uv: Option<&toml::Table>,
) -> Result<Vec<String>, String> {
    let mut reqs = strings(
        project.and_then(|t| t.get("dependencies")),
        "project.dependencies",
    )?;
    if let Some(opt) = table(
        project.and_then(|t| t.get("optional-dependencies")),
        "project.optional-dependencies",
    )? {
        for (k, v) in opt {
            reqs.extend(strings(
                Some(v),
                &format!("project.optional-dependencies.{k}"),
            )?);
        }
    }
    if let Some(groups) = table(doc.get("dependency-groups"), "dependency-groups")? {
        for (k, v) in groups {
            // `{include-group = "..."}` entries are not requirements.
            if let Some(a) = v.as_array() {
                reqs.extend(a.iter().filter_map(Value::as_str).map(str::to_string));
            } else {
                return Err(format!("`dependency-groups.{k}` is not a list"));
            }
        }
    }
    reqs.extend(strings(
        uv.and_then(|t| t.get("dev-dependencies")),
        "tool.uv.dev-dependencies",
    )?);
    Ok(reqs)
}

/// Poetry's dependency tables: `[tool.poetry.dependencies]`,
/// `[tool.poetry.dev-dependencies]` and `[tool.poetry.group.<g>.dependencies]`.
fn poetry_tables(poetry: Option<&toml::Table>) -> Result<Vec<&toml::Table>, String> {
    let mut poetry_tables: Vec<&toml::Table> = Vec::new();
    if let Some(t) = table(
        poetry.and_then(|t| t.get("dependencies")),
        "tool.poetry.dependencies",
    )? {
        poetry_tables.push(t);
    }
    if let Some(t) = table(
        poetry.and_then(|t| t.get("dev-dependencies")),
        "tool.poetry.dev-dependencies",
    )? {
        poetry_tables.push(t);
    }
    for g in table(poetry.and_then(|t| t.get("group")), "tool.poetry.group")?
        .into_iter()
        .flat_map(|t| t.values())
    {
        if let Some(t) = g.get("dependencies").and_then(Value::as_table) {
            poetry_tables.push(t);
        }
    }
    Ok(poetry_tables)
}

/// Parses `uv.lock` text (read once, then asked per project).
pub fn parse_uv_lock(text: &str) -> Result<toml::Table, String> {
    text.parse()
        .map_err(|e: toml::de::Error| format!("not valid TOML: {}", e.message()))
}

/// The external packages (name, version) a project uses, transitively, per
/// `uv.lock`.
pub fn uv_lock(doc: &toml::Table, project: &str) -> Resolved {
    let packages = doc
        .get("package")
        .and_then(Value::as_array)
        .ok_or("it has no `[[package]]`")?;
    let key = |p: &Value| -> Option<(String, String)> {
        Some((
            normalise(p.get("name")?.as_str()?),
            p.get("version")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        ))
    };
    let is_local = |p: &Value| {
        p.get("source").and_then(Value::as_table).is_some_and(|s| {
            ["editable", "virtual", "workspace", "directory"]
                .iter()
                .any(|k| s.contains_key(*k))
        })
    };
    let find = |name: &str, version: Option<&str>| {
        packages
            .iter()
            .find(|p| key(p).is_some_and(|(n, v)| n == name && version.is_none_or(|w| w == v)))
    };
    let mut out = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut stack: Vec<&Value> = find(&normalise(project), None).into_iter().collect();
    while let Some(p) = stack.pop() {
        let Some(k) = key(p) else { continue };
        if !seen.insert(k.clone()) {
            continue;
        }
        if !is_local(p) {
            out.insert(k);
        }
        let mut deps: Vec<&Value> = p
            .get("dependencies")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        for t in ["optional-dependencies", "dev-dependencies"] {
            for list in p
                .get(t)
                .and_then(Value::as_table)
                .into_iter()
                .flat_map(|t| t.values())
            {
                deps.extend(list.as_array().into_iter().flatten());
            }
        }
        for d in deps {
            if let Some(name) = d.get("name").and_then(Value::as_str)
                && let Some(found) =
                    find(&normalise(name), d.get("version").and_then(Value::as_str))
            {
                stack.push(found);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_requirements_sources_and_workspaces() {
        let p = PyProject::parse(
            "[project]\nname = \"Jobs_Runner\"\ndependencies = [\"shop-common\", \"requests[socks]>=2; python_version>'3.8'\"]\n[dependency-groups]\ndev = [\"pytest\", {include-group = \"x\"}]\n[tool.uv.sources]\nshop-common = { workspace = true }\nother = { path = \"../other\" }\n[tool.uv.workspace]\nmembers = [\"services/*\", \"libs/*\"]\n",
        );
        let p = p.unwrap();
        assert_eq!(p.name.as_deref(), Some("jobs-runner"));
        assert_eq!(
            p.deps.iter().map(String::as_str).collect::<Vec<_>>(),
            ["pytest", "requests", "shop-common"]
        );
        assert_eq!(p.sources["shop-common"], Source::Workspace);
        assert_eq!(p.sources["other"], Source::Path("../other".into()));
        assert_eq!(p.members, ["services/*", "libs/*"]);
    }

    #[test]
    fn reads_poetry_path_dependencies() {
        let p = PyProject::parse("[tool.poetry]\nname = \"jobs\"\n[tool.poetry.dependencies]\npython = \"^3.11\"\ncommon = { path = \"../../libs/common\", develop = true }\n").unwrap();
        assert_eq!(
            p.sources["common"],
            Source::Path("../../libs/common".into())
        );
    }

    #[test]
    fn half_written_pyprojects_are_errors() {
        for bad in [
            "[project\nname = \"x\"",
            "[project]\ndependencies = \"requests\"\n",
            "[project]\nname = 3\n",
            "[project]\ndependencies = [\">=2\"]\n",
        ] {
            assert!(PyProject::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn uv_lock_closure_skips_workspace_members() {
        let lock = "version = 1\n\n[[package]]\nname = \"jobs\"\nversion = \"0.1.0\"\nsource = { editable = \"services/jobs\" }\ndependencies = [{ name = \"shop-common\" }, { name = \"httpx\" }]\n\n[[package]]\nname = \"shop-common\"\nversion = \"0.1.0\"\nsource = { editable = \"libs/common\" }\ndependencies = [{ name = \"attrs\" }]\n\n[[package]]\nname = \"httpx\"\nversion = \"0.27.0\"\nsource = { registry = \"https://pypi.org/simple\" }\n\n[[package]]\nname = \"attrs\"\nversion = \"23.2.0\"\nsource = { registry = \"https://pypi.org/simple\" }\n";
        let got = uv_lock(&parse_uv_lock(lock).unwrap(), "jobs").unwrap();
        let names: Vec<String> = got.iter().map(|(n, v)| format!("{n}@{v}")).collect();
        assert_eq!(names, ["attrs@23.2.0", "httpx@0.27.0"]);
        assert!(uv_lock(&parse_uv_lock("version = 1\n").unwrap(), "jobs").is_err());
    }
}
