//! The lookups of preflight ([`crate::preflight`]), each one call (or one
//! paginated call) answering plain data: does this secret, parameter, role,
//! log group, cluster, service, image, subnet or security group exist
//! (EC2's through the thin client of [`super::ec2`]). Existence only: no call here
//! returns a secret's or a parameter's value (DescribeSecret, and SSM's
//! DescribeParameters rather than GetParameters, which would send the values
//! back). What the answers mean is decided in `preflight`, not here.
//!
//! Errors are one line from the one formatter ([`crate::outside::aws`]).

use std::collections::{BTreeMap, BTreeSet};

use aws_config::retry::RetryConfig;

/// The answer of one lookup: found (with what preflight needs), missing, or
/// the lookup failed (in one line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Looked<T> {
    /// It exists.
    Found(T),
    /// AWS says it does not exist.
    Missing,
    /// The lookup failed: the outside error, in one line.
    Failed(String),
}

/// What DescribeSecret says about a secret (never its value).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecretFacts {
    /// Its full ARN.
    pub arn: String,
    /// Set when it is scheduled for deletion.
    pub deleted: bool,
    /// Its version ids, each with its staging labels.
    pub versions: BTreeMap<String, Vec<String>>,
}

/// What DescribeServices says about a service that preflight checks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceFacts {
    /// Its status as ECS spells it (`ACTIVE`, `DRAINING`, `INACTIVE`).
    pub status: String,
    /// The subnets of its awsvpc network configuration: where its tasks,
    /// and the one-off tasks of a release, run.
    pub subnets: Vec<String>,
    /// The security groups of that network configuration.
    pub security_groups: Vec<String>,
    /// The port names its Service Connect configuration serves (the
    /// PRIMARY deployment's `serviceConnectConfiguration.services[].portName`);
    /// `None` when Service Connect is not enabled on it.
    pub connect_ports: Option<Vec<String>>,
}

/// The network and Service Connect parts of a described service: the
/// service's own network configuration (its PRIMARY deployment's when the
/// service has none), and the PRIMARY deployment's Service Connect.
fn service_facts(s: &aws_sdk_ecs::types::Service) -> ServiceFacts {
    let primary = s
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
        .or_else(|| s.deployments().first());
    let network = s
        .network_configuration()
        .or_else(|| primary.and_then(|d| d.network_configuration()))
        .and_then(|n| n.awsvpc_configuration());
    let connect = primary
        .and_then(|d| d.service_connect_configuration())
        .filter(|c| c.enabled());
    ServiceFacts {
        status: s.status().unwrap_or_default().to_string(),
        subnets: network.map(|n| n.subnets().to_vec()).unwrap_or_default(),
        security_groups: network
            .map(|n| n.security_groups().to_vec())
            .unwrap_or_default(),
        connect_ports: connect.map(|c| {
            c.services()
                .iter()
                .map(|s| s.port_name().to_string())
                .collect()
        }),
    }
}

/// The clients of one region that preflight uses.
#[derive(Debug, Clone)]
pub struct Lookups {
    secrets: aws_sdk_secretsmanager::Client,
    ssm: aws_sdk_ssm::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    ecs: aws_sdk_ecs::Client,
    iam: aws_sdk_iam::Client,
    sts: aws_sdk_sts::Client,
    ec2: super::ec2::Ec2,
}

impl Lookups {
    /// Clients of one loaded config ([`super::config`]).
    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        Self {
            secrets: aws_sdk_secretsmanager::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            ecs: aws_sdk_ecs::Client::new(config),
            iam: aws_sdk_iam::Client::new(config),
            sts: aws_sdk_sts::Client::new(config),
            ec2: super::ec2::Ec2::from_config(config),
        }
    }

    /// `DescribeSecret`: the secret `id` (a name or a full or partial ARN).
    pub async fn secret(&self, id: &str) -> Looked<SecretFacts> {
        match self.secrets.describe_secret().secret_id(id).send().await {
            Ok(out) => Looked::Found(SecretFacts {
                arn: out.arn().unwrap_or(id).to_string(),
                deleted: out.deleted_date().is_some(),
                versions: out
                    .version_ids_to_stages()
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
            }),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Looked::Missing
            }
            Err(e) => Looked::Failed(crate::outside::aws("DescribeSecret", id, &e)),
        }
    }

    /// `DescribeParameters` filtered on these exact names (50 at a time,
    /// every page): the names that exist. Metadata only, never a value.
    pub async fn parameters(&self, names: &[String]) -> Result<BTreeSet<String>, String> {
        use aws_sdk_ssm::types::ParameterStringFilter;
        let mut found = BTreeSet::new();
        for chunk in names.chunks(50) {
            let filter = ParameterStringFilter::builder()
                .key("Name")
                .option("Equals")
                .set_values(Some(chunk.to_vec()))
                .build()
                .map_err(|e| format!("DescribeParameters: {e}"))?;
            let mut token: Option<String> = None;
            // Bounded: 50 names fit in a page or a few.
            for _ in 0..100 {
                let out = self
                    .ssm
                    .describe_parameters()
                    .parameter_filters(filter.clone())
                    .max_results(50)
                    .set_next_token(token.take())
                    .send()
                    .await
                    .map_err(|e| crate::outside::aws("DescribeParameters", &chunk[0], &e))?;
                found.extend(
                    out.parameters()
                        .iter()
                        .filter_map(|p| p.name().map(str::to_string)),
                );
                match out.next_token() {
                    Some(t) if !t.is_empty() => token = Some(t.to_string()),
                    _ => break,
                }
            }
        }
        Ok(found)
    }

    /// `GetRole`: the role's ARN.
    pub async fn role(&self, name: &str) -> Looked<String> {
        match self.iam.get_role().role_name(name).send().await {
            Ok(out) => Looked::Found(out.role().map(|r| r.arn().to_string()).unwrap_or_default()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_entity_exception()) =>
            {
                Looked::Missing
            }
            Err(e) => Looked::Failed(crate::outside::aws("GetRole", name, &e)),
        }
    }

    /// `GetCallerIdentity`: the ARN the run's credentials act as.
    pub async fn caller(&self) -> Result<String, String> {
        self.sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| crate::outside::aws("GetCallerIdentity", "", &e))
            .map(|out| out.arn().unwrap_or_default().to_string())
    }

    /// `SimulatePrincipalPolicy` of `iam:PassRole` on `roles` for
    /// `principal`: whether each role may be passed. Not retried: a server
    /// that cannot simulate says so at once.
    pub async fn may_pass(
        &self,
        principal: &str,
        roles: &[String],
    ) -> Result<BTreeMap<String, bool>, String> {
        let out = self
            .iam
            .simulate_principal_policy()
            .policy_source_arn(principal)
            .action_names("iam:PassRole")
            .set_resource_arns(Some(roles.to_vec()))
            .customize()
            .config_override(
                aws_sdk_iam::config::Builder::default().retry_config(RetryConfig::disabled()),
            )
            .send()
            .await
            .map_err(|e| crate::outside::aws("SimulatePrincipalPolicy", principal, &e))?;
        Ok(out
            .evaluation_results()
            .iter()
            .filter_map(|r| {
                let allowed = r.eval_decision().as_str() == "allowed";
                Some((r.eval_resource_name()?.to_string(), allowed))
            })
            .collect())
    }

    /// `DescribeSubnets`: the ids of `ids` that exist.
    pub async fn subnets(&self, ids: &[String]) -> Result<BTreeSet<String>, String> {
        self.ec2.subnets(ids).await
    }

    /// `DescribeSecurityGroups`: the ids of `ids` that exist.
    pub async fn security_groups(&self, ids: &[String]) -> Result<BTreeSet<String>, String> {
        self.ec2.security_groups(ids).await
    }

    /// `DescribeLogGroups` by prefix: whether the group itself exists.
    pub async fn log_group(&self, group: &str) -> Looked<()> {
        let out = self
            .logs
            .describe_log_groups()
            .log_group_name_prefix(group)
            .limit(50)
            .send()
            .await;
        match out {
            Ok(out)
                if out
                    .log_groups()
                    .iter()
                    .any(|g| g.log_group_name() == Some(group)) =>
            {
                Looked::Found(())
            }
            Ok(_) => Looked::Missing,
            Err(e) => Looked::Failed(crate::outside::aws("DescribeLogGroups", group, &e)),
        }
    }

    /// `DescribeClusters` (100 at a time): each named cluster's status, as
    /// ECS spells it (`ACTIVE`, `INACTIVE`, …); an unknown one is absent.
    pub async fn clusters(&self, names: &[String]) -> Result<BTreeMap<String, String>, String> {
        let mut found = BTreeMap::new();
        for chunk in names.chunks(100) {
            let out = self
                .ecs
                .describe_clusters()
                .set_clusters(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| crate::outside::aws("DescribeClusters", &chunk.join(", "), &e))?;
            for c in out.clusters() {
                let status = c.status().unwrap_or_default().to_string();
                for name in chunk {
                    if c.cluster_name() == Some(name) || c.cluster_arn() == Some(name) {
                        found.insert(name.clone(), status.clone());
                    }
                }
            }
        }
        Ok(found)
    }

    /// `DescribeServices` (10 at a time, ECS's limit) in one cluster: each
    /// named service's status (`ACTIVE`, `DRAINING`, `INACTIVE`), network
    /// configuration and Service Connect ports; an unknown one is absent.
    pub async fn services(
        &self,
        cluster: &str,
        names: &[String],
    ) -> Result<BTreeMap<String, ServiceFacts>, String> {
        let mut found = BTreeMap::new();
        for chunk in names.chunks(10) {
            let out = self
                .ecs
                .describe_services()
                .cluster(cluster)
                .set_services(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| crate::outside::aws("DescribeServices", cluster, &e))?;
            for s in out.services() {
                for name in chunk {
                    if s.service_name() == Some(name) || s.service_arn() == Some(name) {
                        // An ACTIVE one wins over an old INACTIVE namesake.
                        let keep = found
                            .get(name)
                            .is_some_and(|f: &ServiceFacts| f.status == "ACTIVE");
                        if !keep {
                            found.insert(name.clone(), service_facts(s));
                        }
                    }
                }
            }
        }
        Ok(found)
    }
}
