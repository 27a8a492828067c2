//! Service Connect's port names, read from a rendered task definition, and
//! the one agreement rule: every port name a service's Service Connect
//! configuration serves (`serviceConnectConfiguration.services[].portName`)
//! is the `name` of one of the task definition's port mappings. ECS refuses
//! (or fails) a deployment that breaks it, after the service was updated;
//! `render --check` checks it offline against the manifest's
//! `service-connect`, preflight against the service's live configuration.
//! Pure.

use crate::taskdef::TaskDefinition;
use crate::taskdef::field::{entries, str_of};
use crate::text::quote;

/// A named port mapping of a task definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPort {
    /// Where: `containerDefinitions[0].portMappings[1].name`.
    pub field: String,
    /// The name.
    pub name: String,
}

/// Every port mapping's name, in the definition's order (unnamed ones are
/// skipped: Service Connect cannot serve them).
pub fn port_names(td: &TaskDefinition) -> Vec<NamedPort> {
    let mut out = Vec::new();
    for (i, c) in entries(&td.container_definitions) {
        let Some(c) = c else { continue };
        for (j, p) in entries(&c.port_mappings) {
            if let Some(name) = p.and_then(|p| str_of(&p.name)) {
                out.push(NamedPort {
                    field: format!("containerDefinitions[{i}].portMappings[{j}].name"),
                    name: name.to_string(),
                });
            }
        }
    }
    out
}

/// The port names Service Connect serves that no port mapping has, each
/// once, in the configuration's order.
pub fn missing(ports: &[String], connect: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in connect {
        if !ports.contains(name) && !out.contains(name) {
            out.push(name.clone());
        }
    }
    out
}

/// The definition's port names for a message: `` its names: `a`, `b` `` or
/// `it names none`.
pub fn names_text(ports: &[String]) -> String {
    if ports.is_empty() {
        "it names none".to_string()
    } else {
        format!(
            "its names: {}",
            ports
                .iter()
                .map(|p| quote(p))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn port_names_are_read_with_their_field_and_unnamed_ports_skipped() {
        let td = TaskDefinition::read(serde_json::json!({"containerDefinitions": [
            {"name": "app", "portMappings": [{"containerPort": 8080, "name": "http"}, {"containerPort": 9090}]},
            {"name": "envoy"},
            {"name": "admin", "portMappings": [{"containerPort": 8081, "name": "admin"}]}
        ]}))
        .unwrap();
        let names = port_names(&td);
        assert_eq!(
            names,
            [
                NamedPort {
                    field: "containerDefinitions[0].portMappings[0].name".into(),
                    name: "http".into()
                },
                NamedPort {
                    field: "containerDefinitions[2].portMappings[0].name".into(),
                    name: "admin".into()
                },
            ]
        );
    }

    #[test]
    fn only_names_no_port_has_are_missing_each_once() {
        let ports = vec!["http".to_string(), "admin".into()];
        assert!(missing(&ports, &["http".into()]).is_empty());
        assert!(missing(&ports, &[]).is_empty());
        assert_eq!(
            missing(&ports, &["grpc".into(), "http".into(), "grpc".into()]),
            ["grpc"]
        );
        assert_eq!(missing(&[], &["http".into()]), ["http"]);
        assert_eq!(names_text(&ports), "its names: `http`, `admin`");
        assert_eq!(names_text(&[]), "it names none");
    }
}
