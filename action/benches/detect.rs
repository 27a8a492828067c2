//! `detect` at monorepo scale: 1,000 services, 50 shared crates, a
//! 100,000-file change list. Measures the decision itself (matching and the
//! crate closure, given the file list), and, as a peer on the same data, the
//! naive approach of testing every service's globs against every file.
//!
//! Run: `cargo bench -p ferry --bench detect`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use ferry::crates::{LocalCrate, Workspace};
use ferry::detect::{LockChange, ManifestChange, Matcher};
use ferry::manifest::Manifest;

const SERVICES: usize = 1000;
const LIBS: usize = 50;
const FILES: usize = 100_000;

fn manifest_text() -> String {
    let mut text = String::from(
        "project: big\nregion: us-east-1\nglobal-paths: [rust-toolchain.toml, 'build/**/*.sh']\n\
         environments:\n  staging: { cluster: big-staging }\n  prod: { cluster: big-prod, promote-from: staging }\nservices:\n",
    );
    for i in 0..SERVICES {
        text.push_str(&format!(
            "  svc{i}:\n    paths: ['services/svc{i}/**', 'config/svc{i}.{{yml,json}}', 'proto/svc{i}/*.proto']\n"
        ));
    }
    text
}

fn workspace() -> Workspace {
    let mut crates = BTreeMap::new();
    for l in 0..LIBS {
        let deps: BTreeSet<String> = if l > 0 {
            BTreeSet::from([format!("lib{}", l - 1)])
        } else {
            BTreeSet::new()
        };
        crates.insert(
            format!("lib{l}"),
            LocalCrate {
                name: format!("lib{l}"),
                dir: format!("libs/lib{l}"),
                local_deps: deps,
            },
        );
    }
    for i in 0..SERVICES {
        let deps = BTreeSet::from([format!("lib{}", i % LIBS), format!("lib{}", (i * 7) % LIBS)]);
        crates.insert(
            format!("svc{i}"),
            LocalCrate {
                name: format!("svc{i}"),
                dir: format!("services/svc{i}"),
                local_deps: deps,
            },
        );
    }
    Workspace::from_crates(crates)
}

/// 100,000 paths: mostly service sources, some shared-crate files, docs, config.
fn files() -> Vec<String> {
    (0..FILES)
        .map(|i| match i % 10 {
            0 => format!("docs/section{}/page{i}.md", i % 97),
            1 => format!("config/svc{}.yml", i % SERVICES),
            2 if i % 1000 == 2 => format!("libs/lib{}/src/m{i}.rs", i % LIBS),
            _ => format!(
                "services/svc{}/src/module{}/file{i}.rs",
                (i * 31) % SERVICES,
                i % 13
            ),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let text = manifest_text();
    let manifest = Manifest::parse(&text, Path::new("ferry.yml")).unwrap();
    let ws = workspace();
    let files = files();
    let imports = BTreeMap::new();
    let lock = LockChange::Unchanged;
    let manifest_change = ManifestChange::default();

    let verdicts = Matcher::new(&manifest, &ws, &imports).evaluate(&files, &lock, &manifest_change);
    let affected = verdicts.iter().filter(|v| v.affected()).count();
    eprintln!(
        "detect bench: {} services, {} files, {affected} affected",
        manifest.services.len(),
        files.len()
    );

    let mut group = c.benchmark_group("detect");
    group.sample_size(20);
    group.bench_function("matcher+evaluate (1000 services, 100k files)", |b| {
        b.iter(|| {
            let m = Matcher::new(&manifest, &ws, &imports);
            black_box(m.evaluate(black_box(&files), &lock, &manifest_change))
        })
    });
    group.bench_function("manifest parse+validate (1000 services)", |b| {
        b.iter(|| black_box(Manifest::parse(black_box(&text), Path::new("ferry.yml")).unwrap()))
    });
    // The peer: every service's globs against every file, on 10,000 files
    // (the full list would take minutes); compare per file.
    let sample = &files[..10_000];
    group.bench_function(
        "naive per-service matching (1000 services, 10k files)",
        |b| {
            b.iter(|| {
                let mut hits = 0usize;
                for svc in manifest.services.values() {
                    for f in sample {
                        if svc.paths.first_match(f).is_some() {
                            hits += 1;
                        }
                    }
                }
                black_box(hits)
            })
        },
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
