//! The effects of preflight: each distinct thing the references name is
//! looked up once, all lookups at once, and the answers gathered as plain
//! [`Facts`]. Secrets, parameters and log groups are asked in the region
//! their reference names; images in their own registry, through the
//! registry code `build` uses (ECR's API for an ECR host, the OCI
//! distribution API elsewhere).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use super::check::{Facts, Passing};
use super::references::{self, Kind, Reference};
use crate::aws::preflight::{Looked, Lookups};
use crate::registry;

/// Runs every future at once; their answers by key.
async fn all<K, T, F>(items: Vec<(K, F)>) -> BTreeMap<K, T>
where
    K: Ord + Send + 'static,
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for (key, fut) in items {
        set.spawn(async move { (key, fut.await) });
    }
    let mut out = BTreeMap::new();
    while let Some(joined) = set.join_next().await {
        // A lookup task that panicked leaves its key unanswered, which
        // `check` treats as not looked up; none of them panics by design.
        if let Ok((k, v)) = joined {
            out.insert(k, v);
        }
    }
    out
}

/// The lookups of each region a reference names (the deploy's first).
async fn lookups(regions: BTreeSet<String>) -> BTreeMap<String, Lookups> {
    let mut out = BTreeMap::new();
    for region in regions {
        let config = crate::aws::config(&region).await;
        out.insert(region, Lookups::from_config(&config));
    }
    out
}

/// Asks AWS and the registries about every reference.
pub async fn facts(refs: &[Reference], region: &str) -> Facts {
    let mut regions = BTreeSet::from([region.to_string()]);
    for r in refs {
        match &r.kind {
            Kind::Secret(s) => regions.insert(s.region.clone()),
            Kind::Parameter(p) => regions.insert(p.region.clone()),
            Kind::LogGroup { region, .. } => regions.insert(region.clone()),
            _ => false,
        };
    }
    let home = Lookups::from_config(&crate::aws::config(region).await);
    regions.remove(region);
    let clients = lookups(regions).await;
    let client = |r: &str| clients.get(r).cloned().unwrap_or_else(|| home.clone());

    let mut secrets = Vec::new();
    let mut parameters: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut roles = Vec::new();
    let mut images = Vec::new();
    let mut log_groups = Vec::new();
    let mut clusters = BTreeSet::new();
    let mut services: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for r in refs {
        // Each distinct thing once.
        if !seen.insert(format!("{:?}", key_of(&r.kind))) {
            continue;
        }
        match &r.kind {
            Kind::Secret(s) => {
                let (c, id) = (client(&s.region), s.id.clone());
                secrets.push(((s.region.clone(), s.id.clone()), async move {
                    c.secret(&id).await
                }));
            }
            Kind::Parameter(p) => {
                parameters
                    .entry(p.region.clone())
                    .or_default()
                    .insert(p.name.clone());
            }
            Kind::Role { name, .. } => {
                let (c, n) = (home.clone(), name.clone());
                roles.push((name.clone(), async move { c.role(&n).await }));
            }
            Kind::Image(image) => {
                let i = image.clone();
                images.push((image.clone(), async move { image_exists(&i).await }));
            }
            Kind::LogGroup { region, group, .. } => {
                let (c, g) = (client(region), group.clone());
                log_groups.push(((region.clone(), group.clone()), async move {
                    c.log_group(&g).await
                }));
            }
            Kind::Cluster(c) => {
                clusters.insert(c.clone());
            }
            Kind::Service { cluster, service } => {
                services
                    .entry(cluster.clone())
                    .or_default()
                    .insert(service.clone());
            }
            Kind::BadValueFrom { .. } | Kind::BadRole { .. } => {}
        }
    }

    let param_lookups = parameters
        .into_iter()
        .map(|(region, names)| {
            let c = client(&region);
            let names: Vec<String> = names.into_iter().collect();
            (region, async move {
                let found = c.parameters(&names).await;
                (names, found)
            })
        })
        .collect();
    let cluster_names: Vec<String> = clusters.into_iter().collect();
    let cluster_lookup = {
        let (c, names) = (home.clone(), cluster_names.clone());
        async move { c.clusters(&names).await }
    };
    let service_lookups = services
        .into_iter()
        .map(|(cluster, names)| {
            let c = home.clone();
            let names: Vec<String> = names.into_iter().collect();
            (cluster.clone(), async move {
                let found = c.services(&cluster, &names).await;
                (names, found)
            })
        })
        .collect();

    let (secrets, params, roles, images, log_groups, cluster_status, service_status) = tokio::join!(
        all(secrets),
        all(param_lookups),
        all(roles),
        all(images),
        all(log_groups),
        cluster_lookup,
        all(service_lookups),
    );

    let mut facts = Facts {
        secrets,
        roles,
        images,
        log_groups,
        ..Facts::default()
    };
    for (region, (names, found)) in params {
        for name in names {
            let looked = match &found {
                Ok(set) if set.contains(&name) => Looked::Found(()),
                Ok(_) => Looked::Missing,
                Err(e) => Looked::Failed(e.clone()),
            };
            facts.parameters.insert((region.clone(), name), looked);
        }
    }
    for name in cluster_names {
        let looked = match &cluster_status {
            Ok(map) => map
                .get(&name)
                .map_or(Looked::Missing, |s| Looked::Found(s.clone())),
            Err(e) => Looked::Failed(e.clone()),
        };
        facts.clusters.insert(name, looked);
    }
    for (cluster, (names, found)) in service_status {
        for name in names {
            let looked = match &found {
                Ok(map) => map
                    .get(&name)
                    .map_or(Looked::Missing, |s| Looked::Found(s.clone())),
                Err(e) => Looked::Failed(e.clone()),
            };
            facts.services.insert((cluster.clone(), name), looked);
        }
    }
    facts.pass = pass_roles(&home, &facts.roles).await;
    facts
}

/// A reference's identity for looking it up once.
fn key_of(kind: &Kind) -> (u8, String, String) {
    match kind {
        Kind::Secret(s) => (0, s.region.clone(), s.id.clone()),
        Kind::Parameter(p) => (1, p.region.clone(), p.name.clone()),
        Kind::Role { name, .. } => (2, String::new(), name.clone()),
        Kind::Image(i) => (3, String::new(), i.clone()),
        Kind::LogGroup { region, group, .. } => (4, region.clone(), group.clone()),
        Kind::Cluster(c) => (5, String::new(), c.clone()),
        Kind::Service { cluster, service } => (6, cluster.clone(), service.clone()),
        Kind::BadValueFrom { value, .. } => (7, String::new(), value.clone()),
        Kind::BadRole { value } => (8, String::new(), value.clone()),
    }
}

/// The IAM principal to simulate for the ARN `GetCallerIdentity` gives: a
/// role for an assumed-role session, a user as itself.
fn principal(caller: &str) -> Option<(String, Option<String>)> {
    let parts: Vec<&str> = caller.splitn(6, ':').collect();
    let [_, partition, service, _, account, resource] = parts.as_slice() else {
        return None;
    };
    match (*service, resource.split_once('/')) {
        ("sts", Some(("assumed-role", rest))) => {
            let name = rest.split('/').next().filter(|n| !n.is_empty())?;
            Some((
                format!("arn:{partition}:iam::{account}:role/{name}"),
                Some(name.to_string()),
            ))
        }
        ("sts" | "iam", Some(("user", name))) => {
            Some((format!("arn:{partition}:iam::{account}:user/{name}"), None))
        }
        ("iam", Some(("role", _))) => Some((caller.to_string(), None)),
        _ => None,
    }
}

/// Whether the run's principal may pass each role that exists, simulated
/// (`None` when no role exists to pass).
async fn pass_roles(
    home: &Lookups,
    roles: &BTreeMap<String, Looked<String>>,
) -> Option<Result<Passing, String>> {
    let arns: Vec<String> = roles
        .values()
        .filter_map(|l| match l {
            Looked::Found(arn) if !arn.is_empty() => Some(arn.clone()),
            _ => None,
        })
        .collect();
    if arns.is_empty() {
        return None;
    }
    let caller = match home.caller().await {
        Ok(c) => c,
        Err(e) => return Some(Err(e)),
    };
    let Some((mut source, role_name)) = principal(&caller) else {
        return Some(Err(format!(
            "{} is neither a role session nor a user",
            crate::text::quote(&caller)
        )));
    };
    // A role with a path: its real ARN.
    if let Some(name) = role_name
        && let Looked::Found(arn) = home.role(&name).await
    {
        source = arn;
    }
    Some(home.may_pass(&source, &arns).await.map(|allowed| Passing {
        principal: source,
        allowed,
    }))
}

/// Whether an image exists by digest (or by tag, when it has none) in its
/// registry: ECR's API for an ECR host, the OCI API elsewhere, with the
/// Docker config's login when it holds one.
async fn image_exists(image: &str) -> Looked<()> {
    let r = match references::image(image) {
        Ok(r) => r,
        Err(why) => {
            return Looked::Failed(format!(
                "{} is no image reference: {why}",
                crate::text::quote(image)
            ));
        }
    };
    if registry::is_ecr_host(&r.host) {
        let region = r.host.split('.').nth(3).unwrap_or_default();
        let ecr = crate::aws::ecr::Ecr::from_env(region).await;
        return match ecr.find(&r.repository, &r.reference).await {
            Ok(Some(_)) => Looked::Found(()),
            Ok(None) | Err(crate::aws::ecr::EcrError::NoRepository(_)) => Looked::Missing,
            Err(e) => Looked::Failed(e.to_string().lines().next().unwrap_or_default().into()),
        };
    }
    let host = if r.host == "docker.io" {
        "registry-1.docker.io".to_string()
    } else {
        r.host.clone()
    };
    // Plain HTTP only for a registry on this machine (a test bed).
    let insecure = host.starts_with("localhost") || host.starts_with("127.0.0.1");
    let login = registry::docker_config_path(&|k| std::env::var(k).ok())
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| registry::from_docker_config(&text, &r.host).ok().flatten());
    let reg = match registry::Registry::new(&host, insecure, login) {
        Ok(reg) => reg,
        Err(e) => return Looked::Failed(e.to_string()),
    };
    match reg.manifest(&r.repository, &r.reference).await {
        Ok(Some(_)) => Looked::Found(()),
        Ok(None) => Looked::Missing,
        Err(e) => Looked::Failed(crate::outside::line(
            &format!("registry {host}"),
            crate::outside::System::Registry,
            &e.to_string(),
            "the registry's address and the job's login to it",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::principal;

    #[test]
    fn the_principal_of_a_session_is_its_role() {
        assert_eq!(
            principal("arn:aws:sts::123456789012:assumed-role/deploy/gha-1"),
            Some((
                "arn:aws:iam::123456789012:role/deploy".into(),
                Some("deploy".into())
            ))
        );
        assert_eq!(
            principal("arn:aws:sts::123456789012:user/moto"),
            Some(("arn:aws:iam::123456789012:user/moto".into(), None))
        );
        assert_eq!(
            principal("arn:aws:iam::123456789012:user/ci"),
            Some(("arn:aws:iam::123456789012:user/ci".into(), None))
        );
        assert_eq!(principal("arn:aws:iam::123456789012:root"), None);
        assert_eq!(principal("nonsense"), None);
    }
}
