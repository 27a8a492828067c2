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
use crate::aws::preflight::{Looked, Lookups, ServiceFacts};
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

/// The distinct things the references name, grouped by what answers them.
#[derive(Debug, Default, PartialEq)]
struct Wanted {
    /// The regions asked besides the deploy's.
    regions: BTreeSet<String>,
    secrets: BTreeSet<(String, String)>,
    parameters: BTreeMap<String, BTreeSet<String>>,
    roles: BTreeSet<String>,
    images: BTreeSet<String>,
    log_groups: BTreeSet<(String, String)>,
    clusters: BTreeSet<String>,
    services: BTreeMap<String, BTreeSet<String>>,
}

/// Each distinct thing the references name, once.
fn wanted(refs: &[Reference], region: &str) -> Wanted {
    let mut w = Wanted::default();
    for r in refs {
        match &r.kind {
            Kind::Secret(s) => {
                w.regions.insert(s.region.clone());
                w.secrets.insert((s.region.clone(), s.id.clone()));
            }
            Kind::Parameter(p) => {
                w.regions.insert(p.region.clone());
                w.parameters
                    .entry(p.region.clone())
                    .or_default()
                    .insert(p.name.clone());
            }
            Kind::LogGroup { region, group, .. } => {
                w.regions.insert(region.clone());
                w.log_groups.insert((region.clone(), group.clone()));
            }
            Kind::Role { name, .. } => {
                w.roles.insert(name.clone());
            }
            Kind::Image(image) => {
                w.images.insert(image.clone());
            }
            Kind::Cluster(c) => {
                w.clusters.insert(c.clone());
            }
            Kind::Service {
                cluster, service, ..
            } => {
                w.services
                    .entry(cluster.clone())
                    .or_default()
                    .insert(service.clone());
            }
            Kind::BadValueFrom { .. } | Kind::BadRole { .. } => {}
        }
    }
    w.regions.remove(region);
    w
}

/// Asks AWS and the registries about every reference.
pub async fn facts(refs: &[Reference], region: &str) -> Facts {
    let w = wanted(refs, region);
    let home = Lookups::from_config(&crate::aws::config(region).await);
    let clients = lookups(w.regions).await;
    let client = |r: &str| clients.get(r).cloned().unwrap_or_else(|| home.clone());
    let secrets = w.secrets.into_iter().map(|(region, id)| {
        let c = client(&region);
        let key = (region, id.clone());
        (key, async move { c.secret(&id).await })
    });
    let roles = w.roles.into_iter().map(|name| {
        let (c, n) = (home.clone(), name.clone());
        (name, async move { c.role(&n).await })
    });
    let images = w.images.into_iter().map(|image| {
        let i = image.clone();
        (image, async move { image_exists(&i).await })
    });
    let log_groups = w.log_groups.into_iter().map(|(region, group)| {
        let (c, g) = (client(&region), group.clone());
        ((region, group), async move { c.log_group(&g).await })
    });
    let params = w.parameters.into_iter().map(|(region, names)| {
        let c = client(&region);
        let names: Vec<String> = names.into_iter().collect();
        (region, async move {
            let found = c.parameters(&names).await;
            (names, found)
        })
    });
    let cluster_names: Vec<String> = w.clusters.into_iter().collect();
    let cluster_lookup = {
        let (c, names) = (home.clone(), cluster_names.clone());
        async move { c.clusters(&names).await }
    };
    let services = w.services.into_iter().map(|(cluster, names)| {
        let c = home.clone();
        let names: Vec<String> = names.into_iter().collect();
        (cluster.clone(), async move {
            let found = c.services(&cluster, &names).await;
            (names, found)
        })
    });
    let (secrets, params, roles, images, log_groups, cluster_status, service_status) = tokio::join!(
        all(secrets.collect()),
        all(params.collect()),
        all(roles.collect()),
        all(images.collect()),
        all(log_groups.collect()),
        cluster_lookup,
        all(services.collect()),
    );
    let mut facts = Facts {
        secrets,
        roles,
        images,
        log_groups,
        ..Facts::default()
    };
    record(
        &mut facts,
        params,
        (cluster_names, cluster_status),
        service_status,
    );
    // What the services found name: their subnets and security groups.
    let (subnets, groups) = network_ids(&facts.networks);
    let (found_subnets, found_groups, pass) = tokio::join!(
        home.subnets(&subnets),
        home.security_groups(&groups),
        pass_roles(&home, &facts.roles),
    );
    facts.subnets = looked_up(subnets, &found_subnets);
    facts.security_groups = looked_up(groups, &found_groups);
    facts.pass = pass;
    facts
}

/// The distinct subnets and security groups of the services' network
/// configurations.
fn network_ids(networks: &BTreeMap<(String, String), ServiceFacts>) -> (Vec<String>, Vec<String>) {
    let subnets: BTreeSet<&String> = networks.values().flat_map(|n| &n.subnets).collect();
    let groups: BTreeSet<&String> = networks.values().flat_map(|n| &n.security_groups).collect();
    (
        subnets.into_iter().cloned().collect(),
        groups.into_iter().cloned().collect(),
    )
}

/// One fact per id asked of a batched existence lookup.
fn looked_up(
    ids: Vec<String>,
    found: &Result<BTreeSet<String>, String>,
) -> BTreeMap<String, Looked<()>> {
    ids.into_iter()
        .map(|id| {
            let looked = match found {
                Ok(set) if set.contains(&id) => Looked::Found(()),
                Ok(_) => Looked::Missing,
                Err(e) => Looked::Failed(e.clone()),
            };
            (id, looked)
        })
        .collect()
}

/// The names one batched lookup asked, and its answer.
type Asked<T> = (Vec<String>, Result<T, String>);

/// The answers of the batched lookups (parameters, clusters, services),
/// one fact per name asked.
fn record(
    facts: &mut Facts,
    params: BTreeMap<String, Asked<BTreeSet<String>>>,
    (cluster_names, cluster_status): (Vec<String>, Result<BTreeMap<String, String>, String>),
    service_status: BTreeMap<String, Asked<BTreeMap<String, ServiceFacts>>>,
) {
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
            let key = (cluster.clone(), name);
            let looked = match &found {
                Ok(map) => match map.get(&key.1) {
                    Some(s) => {
                        facts.networks.insert(key.clone(), s.clone());
                        Looked::Found(s.status.clone())
                    }
                    None => Looked::Missing,
                },
                Err(e) => Looked::Failed(e.clone()),
            };
            facts.services.insert(key, looked);
        }
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
    use super::{principal, wanted};
    use crate::preflight::references::{Kind, Reference};

    #[test]
    fn each_thing_is_asked_once_and_other_regions_get_their_own_client() {
        let r = |kind: Kind| Reference {
            service: "api".into(),
            field: "f".into(),
            kind,
        };
        let group = |region: &str, created| Kind::LogGroup {
            region: region.into(),
            group: "/g".into(),
            created,
        };
        let service = || Kind::Service {
            cluster: "c".into(),
            service: "s".into(),
            ports: Vec::new(),
        };
        let refs = [
            r(Kind::Image("i:1".into())),
            r(Kind::Image("i:1".into())),
            r(group("eu-west-1", false)),
            r(group("us-east-1", true)),
            r(Kind::Cluster("c".into())),
            r(service()),
            r(service()),
            r(Kind::BadRole { value: "x".into() }),
        ];
        let w = wanted(&refs, "us-east-1");
        assert_eq!(w.images.len(), 1);
        assert_eq!(w.log_groups.len(), 2);
        assert_eq!(w.regions.iter().collect::<Vec<_>>(), ["eu-west-1"]);
        assert_eq!(w.services["c"].len(), 1);
        assert_eq!(w.clusters.len(), 1);
        assert!(w.roles.is_empty() && w.secrets.is_empty());
    }

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
