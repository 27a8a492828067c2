//! Manifest parse + validation at monorepo scale: 1,000 services with every
//! field written, a 5,000-environment promotion chain, and 1,000 services
//! that each have a problem (every diagnostic is built, with its position).
//!
//! Run: `cargo bench -p ferry --bench manifest`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use ferry::diagnostic::Diagnose;
use ferry::manifest::Manifest;

const SERVICES: usize = 1000;
const ENVIRONMENTS: usize = 5000;

fn header() -> String {
    String::from(
        "project: big\nregion: us-east-1\nglobal-paths: [rust-toolchain.toml, 'build/**/*.sh']\n\
         environments:\n  staging: { cluster: big-staging, url: 'https://staging.example.com' }\n  \
         prod: { cluster: big-prod, promote-from: staging }\nbuild: { registry: 'http://127.0.0.1:5001', parallel: 4 }\nservices:\n",
    )
}

/// 1,000 services, each with paths (a brace glob among them), ECS and ECR
/// names, Dockerfile and task definition.
pub fn services_text() -> String {
    let mut text = header();
    for i in 0..SERVICES {
        text.push_str(&format!(
            "  svc{i}:\n    paths: ['services/svc{i}/**', 'config/svc{i}.{{yml,json}}', 'proto/svc{i}/*.proto']\n    \
             crate: svc{i}\n    dockerfile: services/svc{i}/Dockerfile\n    task-definition: task-definitions/svc{i}.jsonnet\n    \
             ecs-service: '{{project}}-{{env}}-svc{i}'\n    ecr-repository: '{{project}}/svc{i}'\n"
        ));
    }
    text
}

/// 5,000 environments, each promoted from the one before.
pub fn chain_text() -> String {
    let mut text =
        String::from("project: big\nregion: us-east-1\nenvironments:\n  e0: { cluster: c0 }\n");
    for i in 1..ENVIRONMENTS {
        text.push_str(&format!(
            "  e{i}: {{ cluster: c{i}, promote-from: e{} }}\n",
            i - 1
        ));
    }
    text.push_str("services:\n  api: {}\n");
    text
}

/// 1,000 services with one bad name each.
pub fn broken_text() -> String {
    services_text().replace("ecr-repository: '{project}/svc", "ecr-repository: 'Big/Svc")
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("manifest");
    group.sample_size(20);
    group.bench_function("parse+validate (1000 services, every field)", |b| {
        let text = services_text();
        let m = Manifest::parse(&text, Path::new("ferry.yml")).unwrap();
        assert_eq!(m.services.len(), SERVICES);
        b.iter(|| black_box(Manifest::parse(black_box(&text), Path::new("ferry.yml")).unwrap()))
    });
    group.bench_function("parse+validate (5000-environment promotion chain)", |b| {
        let text = chain_text();
        let m = Manifest::parse(&text, Path::new("ferry.yml")).unwrap();
        assert_eq!(m.environments.len(), ENVIRONMENTS);
        b.iter(|| black_box(Manifest::parse(black_box(&text), Path::new("ferry.yml")).unwrap()))
    });
    group.bench_function("refuse (1000 services, 1000 diagnostics)", |b| {
        let text = broken_text();
        let problems = Manifest::parse(&text, Path::new("ferry.yml"))
            .unwrap_err()
            .diagnostics();
        assert!(problems.len() >= SERVICES, "{}", problems.len());
        assert!(problems.iter().all(|d| d.line.is_some()));
        b.iter(|| black_box(Manifest::parse(black_box(&text), Path::new("ferry.yml")).unwrap_err()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
