//! JavaScript workspaces (npm, yarn, pnpm): `package.json` and
//! `pnpm-workspace.yaml` for the graph; `package-lock.json` (v2, v3) and
//! `pnpm-lock.yaml` for the resolved versions each package uses.

use std::collections::BTreeSet;

use serde_json::Value;

use super::Resolved;

/// The dependency tables a package's own `package.json` lists.
const DEP_TABLES: &[&str] = &[
    "dependencies",
    "devDependencies",
    "optionalDependencies",
    "peerDependencies",
];

/// A parsed `package.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageJson {
    /// `name` (None for an unnamed workspace root).
    pub name: Option<String>,
    /// `workspaces` patterns (an array, or `{packages: [...]}` as yarn writes it).
    pub workspaces: Vec<String>,
    /// Every dependency: (name, spec).
    pub deps: Vec<(String, String)>,
}

impl PackageJson {
    /// Parses package.json text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let obj = v.as_object().ok_or("not a JSON object")?;
        let name = match obj.get("name") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err("`name` is not a string".into()),
        };
        let list = |v: &Value| -> Result<Vec<String>, String> {
            v.as_array()
                .ok_or("`workspaces` is not a list")?
                .iter()
                .map(|p| {
                    p.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| "`workspaces` lists something that is not a string".into())
                })
                .collect()
        };
        let workspaces = match obj.get("workspaces") {
            None | Some(Value::Null) => Vec::new(),
            Some(w @ Value::Array(_)) => list(w)?,
            Some(Value::Object(o)) => o.get("packages").map(list).transpose()?.unwrap_or_default(),
            Some(_) => return Err("`workspaces` is neither a list nor an object".into()),
        };
        let mut deps = Vec::new();
        for table in DEP_TABLES {
            match obj.get(*table) {
                None | Some(Value::Null) => {}
                Some(Value::Object(t)) => {
                    for (k, v) in t {
                        let spec = v
                            .as_str()
                            .ok_or_else(|| format!("`{table}.{k}` is not a string"))?;
                        deps.push((k.clone(), spec.to_string()));
                    }
                }
                Some(_) => return Err(format!("`{table}` is not an object")),
            }
        }
        Ok(Self {
            name,
            workspaces,
            deps,
        })
    }
}

/// A dependency spec that names a folder: `file:`, `link:`, `portal:`.
pub fn local_path(spec: &str) -> Option<&str> {
    ["file:", "link:", "portal:"]
        .iter()
        .find_map(|p| spec.strip_prefix(p))
}

/// `packages:` of `pnpm-workspace.yaml`.
pub fn pnpm_workspace(text: &str) -> Result<Vec<String>, String> {
    #[derive(serde::Deserialize)]
    struct Ws {
        #[serde(default)]
        packages: Vec<String>,
    }
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    crate::manifest::yaml::from_str::<Ws>(text)
        .map(|w| w.packages)
        .map_err(|e| e.message)
}

/// Parses `package-lock.json` text (read once, then asked per package).
pub fn parse_npm_lock(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))
}

/// The external packages (name, version) a package uses, transitively, per
/// `package-lock.json` (v2 or v3; `importer` is its folder relative to the
/// lockfile's, "" for the root).
pub fn npm_lock(v: &Value, importer: &str) -> Resolved {
    let version = v
        .get("lockfileVersion")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    let Some(packages) = v.get("packages").and_then(Value::as_object) else {
        return Err(format!(
            "lockfileVersion {version} has no `packages`: it does not say which package uses which dependency"
        ));
    };
    let mut out = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut stack = vec![importer.to_string()];
    while let Some(key) = stack.pop() {
        if !seen.insert(key.clone()) {
            continue;
        }
        let Some(entry) = packages.get(&key) else {
            continue;
        };
        if entry.get("link").and_then(Value::as_bool) == Some(true) {
            if let Some(target) = entry.get("resolved").and_then(Value::as_str) {
                stack.push(target.to_string());
            }
            continue;
        }
        let is_installed = key.starts_with("node_modules/") || key.contains("/node_modules/");
        if is_installed {
            let name = key
                .rsplit_once("node_modules/")
                .map_or(key.as_str(), |(_, n)| n);
            let version = entry.get("version").and_then(Value::as_str).unwrap_or("");
            out.insert((name.to_string(), version.to_string()));
        }
        // An installed package's devDependencies are not installed.
        let tables: &[&str] = if is_installed {
            &["dependencies", "optionalDependencies", "peerDependencies"]
        } else {
            DEP_TABLES
        };
        for table in tables {
            for dep in entry
                .get(*table)
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|t| t.keys())
            {
                if let Some(found) = npm_resolve(packages, &key, dep) {
                    stack.push(found);
                }
            }
        }
    }
    Ok(out)
}

/// Where node finds `name` from the package at `from`: its own
/// `node_modules`, then each enclosing one, up to the root's.
fn npm_resolve(
    packages: &serde_json::Map<String, Value>,
    from: &str,
    name: &str,
) -> Option<String> {
    let mut at = from.to_string();
    loop {
        let candidate = if at.is_empty() {
            format!("node_modules/{name}")
        } else {
            format!("{at}/node_modules/{name}")
        };
        if packages.contains_key(&candidate) {
            return Some(candidate);
        }
        if at.is_empty() {
            return None;
        }
        at = match at.rfind("/node_modules/") {
            Some(i) => at[..i].to_string(),
            None => String::new(),
        };
    }
}

/// Parses `pnpm-lock.yaml` text (within the YAML limits of every file Ferry reads).
pub fn parse_pnpm_lock(text: &str) -> Result<Value, String> {
    crate::manifest::yaml::from_str(text).map_err(|e| e.message)
}

/// The external packages (name, version) a package uses, transitively, per
/// `pnpm-lock.yaml` (`importer` is its folder relative to the lockfile's,
/// "" for the root).
pub fn pnpm_lock(v: &Value, importer: &str) -> Resolved {
    let importers = v
        .get("importers")
        .and_then(Value::as_object)
        .ok_or("it has no `importers`")?;
    let importer_key = if importer.is_empty() { "." } else { importer };
    let mut out = BTreeSet::new();
    let mut seen_importers = BTreeSet::new();
    let mut pending_importers = vec![importer_key.to_string()];
    let mut stack: Vec<(String, String)> = Vec::new();
    while let Some(imp) = pending_importers.pop() {
        if !seen_importers.insert(imp.clone()) {
            continue;
        }
        let Some(entry) = importers.get(&imp) else {
            continue;
        };
        for table in ["dependencies", "devDependencies", "optionalDependencies"] {
            for (name, spec) in entry
                .get(table)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                // v6+: `{specifier, version}`; v5: the version itself.
                let version = spec
                    .get("version")
                    .and_then(Value::as_str)
                    .or(spec.as_str())
                    .unwrap_or("");
                if let Some(path) = version.strip_prefix("link:") {
                    let dir = if imp == "." { "" } else { imp.as_str() };
                    let joined = crate::crates::join(dir, path);
                    pending_importers.push(if joined.is_empty() {
                        ".".into()
                    } else {
                        joined
                    });
                } else {
                    stack.push((name.clone(), version.to_string()));
                }
            }
        }
    }
    let tables = [v.get("snapshots"), v.get("packages")];
    let mut seen = BTreeSet::new();
    while let Some((name, version)) = stack.pop() {
        if !seen.insert((name.clone(), version.clone())) {
            continue;
        }
        out.insert((name.clone(), version.clone()));
        let keys = [
            format!("{name}@{version}"),
            format!("/{name}@{version}"),
            format!("/{name}/{version}"),
            version.clone(),
        ];
        let entry = tables
            .iter()
            .flatten()
            .find_map(|t| keys.iter().find_map(|k| t.get(k.as_str())));
        for table in ["dependencies", "optionalDependencies"] {
            for (dep, ver) in entry
                .and_then(|e| e.get(table))
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if let Some(ver) = ver.as_str() {
                    stack.push((dep.clone(), ver.to_string()));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_json_lists_dependencies_and_workspaces() {
        let p = PackageJson::parse(
            r#"{"name":"web","workspaces":{"packages":["libs/*"]},"dependencies":{"@shop/common":"workspace:*"},"devDependencies":{"x":"file:../x"}}"#,
        )
        .unwrap();
        assert_eq!(p.name.as_deref(), Some("web"));
        assert_eq!(p.workspaces, ["libs/*"]);
        assert_eq!(p.deps.len(), 2);
        assert_eq!(local_path("file:../x"), Some("../x"));
        for bad in [
            "{\"name\": ",
            "[]",
            "{\"dependencies\": []}",
            "{\"workspaces\": 3}",
        ] {
            assert!(PackageJson::parse(bad).is_err(), "{bad}");
        }
    }

    const NPM_LOCK: &str = r#"{
      "name": "root", "lockfileVersion": 3,
      "packages": {
        "": {"workspaces": ["services/*", "libs/*"]},
        "libs/common": {"name": "@shop/common", "dependencies": {"left-pad": "^1.0.0"}},
        "services/web": {"name": "web", "dependencies": {"@shop/common": "*", "express": "^4"}},
        "services/admin": {"name": "admin", "dependencies": {"ms": "^2"}},
        "services/admin/node_modules/ms": {"version": "2.0.0"},
        "node_modules/@shop/common": {"resolved": "libs/common", "link": true},
        "node_modules/web": {"resolved": "services/web", "link": true},
        "node_modules/express": {"version": "4.18.0", "dependencies": {"ms": "2.1.3"}},
        "node_modules/ms": {"version": "2.1.3"},
        "node_modules/left-pad": {"version": "1.3.0"}
      }
    }"#;

    #[test]
    fn npm_lock_follows_workspace_links_and_nested_node_modules() {
        let web = npm_lock(&parse_npm_lock(NPM_LOCK).unwrap(), "services/web").unwrap();
        let names: Vec<String> = web.iter().map(|(n, v)| format!("{n}@{v}")).collect();
        assert_eq!(names, ["express@4.18.0", "left-pad@1.3.0", "ms@2.1.3"]);
        let admin = npm_lock(&parse_npm_lock(NPM_LOCK).unwrap(), "services/admin").unwrap();
        assert_eq!(admin, BTreeSet::from([("ms".into(), "2.0.0".into())]));
        assert!(
            npm_lock(
                &parse_npm_lock(r#"{"lockfileVersion": 1, "dependencies": {}}"#).unwrap(),
                ""
            )
            .is_err()
        );
    }

    #[test]
    fn pnpm_lock_follows_links_and_snapshots() {
        let text = "lockfileVersion: '9.0'\nimporters:\n  .: {}\n  services/web:\n    dependencies:\n      '@shop/common':\n        specifier: workspace:*\n        version: link:../../libs/common\n      express:\n        specifier: ^4\n        version: 4.18.0\n  libs/common:\n    dependencies:\n      left-pad:\n        specifier: ^1\n        version: 1.3.0\npackages:\n  express@4.18.0: {resolution: {integrity: x}}\n  ms@2.1.3: {resolution: {integrity: y}}\n  left-pad@1.3.0: {resolution: {integrity: z}}\nsnapshots:\n  express@4.18.0:\n    dependencies:\n      ms: 2.1.3\n  ms@2.1.3: {}\n  left-pad@1.3.0: {}\n";
        let web = pnpm_lock(&parse_pnpm_lock(text).unwrap(), "services/web").unwrap();
        let names: Vec<String> = web.iter().map(|(n, v)| format!("{n}@{v}")).collect();
        assert_eq!(names, ["express@4.18.0", "left-pad@1.3.0", "ms@2.1.3"]);
        assert!(pnpm_lock(&parse_pnpm_lock("lockfileVersion: '9.0'\n").unwrap(), "").is_err());
    }
}
