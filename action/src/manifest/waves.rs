//! The order between services (`depends-on`): the cycles a manifest must
//! not have, and the waves a release rolls out in. Pure, over names.

use indexmap::IndexMap;

use super::Manifest;

/// Every dependency cycle of `graph` (service → the services it depends
/// on), each once, starting at its first-declared service, in order.
/// Depth-first with an explicit stack: linear in services and edges.
pub fn dependency_cycles<'a>(graph: &IndexMap<&'a str, Vec<&'a str>>) -> Vec<Vec<&'a str>> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        OnPath,
        Done,
    }
    let mut state = vec![State::New; graph.len()];
    let mut cycles: Vec<Vec<&str>> = Vec::new();
    let mut seen: Vec<Vec<&str>> = Vec::new();
    for start in 0..graph.len() {
        if state[start] != State::New {
            continue;
        }
        // (node, index of its next edge)
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = State::OnPath;
        while let Some(&(node, edge)) = path.last() {
            let deps = graph
                .get_index(node)
                .map(|(_, d)| d.as_slice())
                .unwrap_or_default();
            let Some(dep) = deps.get(edge) else {
                state[node] = State::Done;
                path.pop();
                continue;
            };
            if let Some(top) = path.last_mut() {
                top.1 += 1;
            }
            let Some(next) = graph.get_index_of(dep) else {
                continue;
            };
            match state[next] {
                State::New => {
                    state[next] = State::OnPath;
                    path.push((next, 0));
                }
                State::OnPath => {
                    let at = path.iter().position(|(n, _)| *n == next).unwrap_or(0);
                    let members: Vec<usize> = path[at..].iter().map(|(n, _)| *n).collect();
                    let first = members.iter().copied().min().unwrap_or(next);
                    let rotate = members.iter().position(|&m| m == first).unwrap_or(0);
                    let cycle: Vec<&str> = members[rotate..]
                        .iter()
                        .chain(&members[..rotate])
                        .filter_map(|&i| graph.get_index(i).map(|(n, _)| *n))
                        .collect();
                    let mut key = cycle.clone();
                    key.sort_unstable();
                    if !seen.contains(&key) {
                        seen.push(key);
                        cycles.push(cycle);
                    }
                }
                State::Done => {}
            }
        }
    }
    cycles
}

/// The waves a release of `services` rolls out in: a service is in the
/// wave after the last of its dependencies *in this release* (a dependency
/// the release does not deploy is already live). Each wave in the
/// manifest's order; one wave when nothing depends on anything.
pub fn waves(manifest: &Manifest, services: &[String]) -> Vec<Vec<String>> {
    let mut level: IndexMap<&str, usize> = services.iter().map(|s| (s.as_str(), 0)).collect();
    // Validation refused cycles; the bound keeps a bad graph finite anyway.
    for _ in 0..services.len() {
        let mut changed = false;
        for s in services {
            let deps = manifest
                .services
                .get(s)
                .map(|m| m.depends_on.as_slice())
                .unwrap_or_default();
            let want = deps
                .iter()
                .filter_map(|d| level.get(d.as_str()).map(|l| l + 1))
                .max()
                .unwrap_or(0);
            if let Some(l) = level.get_mut(s.as_str())
                && *l < want
            {
                *l = want;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut ordered: Vec<&String> = services.iter().collect();
    ordered.sort_by_key(|s| manifest.services.get_index_of(s.as_str()));
    for s in ordered {
        let l = level.get(s.as_str()).copied().unwrap_or(0);
        if out.len() <= l {
            out.resize(l + 1, Vec::new());
        }
        out[l].push(s.clone());
    }
    out.retain(|w| !w.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph<'a>(edges: &[(&'a str, &[&'a str])]) -> IndexMap<&'a str, Vec<&'a str>> {
        edges.iter().map(|(n, d)| (*n, d.to_vec())).collect()
    }

    #[test]
    fn cycles_are_found_once_each_from_their_first_service() {
        let g = graph(&[
            ("a", &["b"]),
            ("b", &["c"]),
            ("c", &["a"]),
            ("d", &["d2"]),
            ("d2", &["d"]),
            ("e", &["a"]),
        ]);
        assert_eq!(
            dependency_cycles(&g),
            vec![vec!["a", "b", "c"], vec!["d", "d2"]]
        );
        let g = graph(&[("a", &["b"]), ("b", &[]), ("c", &["a", "b"])]);
        assert!(dependency_cycles(&g).is_empty());
    }

    #[test]
    fn a_long_chain_needs_no_recursion() {
        let names: Vec<String> = (0..20_000).map(|i| format!("s{i}")).collect();
        let g: IndexMap<&str, Vec<&str>> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                (
                    n.as_str(),
                    names
                        .get(i + 1)
                        .map(|d| vec![d.as_str()])
                        .unwrap_or_default(),
                )
            })
            .collect();
        assert!(dependency_cycles(&g).is_empty());
    }
}
