//! An in-memory [`Tree`] for the unit tests of the workspace graphs
//! (Cargo's here, and the other languages' in `detect::graph`).

use std::collections::{BTreeMap, BTreeSet};

use super::Tree;

/// An in-memory tree: path → text; folders are implied by paths.
pub(crate) struct MemTree(BTreeMap<String, String>);

impl MemTree {
    pub(crate) fn new(files: &[(&str, &str)]) -> Self {
        Self(
            files
                .iter()
                .map(|(p, t)| (p.to_string(), t.to_string()))
                .collect(),
        )
    }
}

impl Tree for MemTree {
    fn read(&self, path: &str) -> Option<String> {
        self.0.get(path).cloned()
    }
    fn subdirs(&self, dir: &str) -> Vec<String> {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let set: BTreeSet<String> = self
            .0
            .keys()
            .filter_map(|p| p.strip_prefix(&prefix))
            .filter_map(|rest| rest.split_once('/').map(|(d, _)| d.to_string()))
            .collect();
        set.into_iter().collect()
    }
}
