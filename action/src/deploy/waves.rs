//! A release in waves (`depends-on`): which services of the plan go in
//! which wave, why a service of a later wave was not deployed after a
//! failed wave, and the waves as the log and the summary show them. Pure:
//! `run` rolls each wave out with `apply`.

use super::model::ServiceOutcome;
use crate::markdown;

/// Why a service was not deployed: the wave before it failed (earlier,
/// healthy waves stay as they are: nothing is rolled back for it).
pub fn not_deployed(wave: usize, failed: &[String]) -> String {
    format!(
        "not deployed: wave {wave} failed ({}), and this service starts after it",
        failed.join(", ")
    )
}

/// One line per wave for the log: `wave 1/2: a, b`.
pub fn describe(waves: &[Vec<String>]) -> Vec<String> {
    waves
        .iter()
        .enumerate()
        .map(|(i, w)| format!("wave {}/{}: {}", i + 1, waves.len(), w.join(", ")))
        .collect()
}

/// The job summary's section (only when there is more than one wave): each
/// wave with its services' statuses.
pub fn markdown(waves: &[Vec<String>], outcomes: &[ServiceOutcome]) -> String {
    if waves.len() < 2 {
        return String::new();
    }
    let mut md = String::from("### Waves\n\n");
    for (i, wave) in waves.iter().enumerate() {
        let services: Vec<String> = wave
            .iter()
            .map(|s| {
                let status = outcomes.iter().find(|o| o.service == *s).map_or("–", |o| {
                    if o.diagnosis
                        .as_ref()
                        .is_some_and(|d| d.reason.starts_with("not deployed: wave"))
                    {
                        "not deployed"
                    } else {
                        o.status.as_str()
                    }
                });
                format!("{} ({status})", markdown::code(s))
            })
            .collect();
        md.push_str(&format!("{}. {}\n", i + 1, services.join(", ")));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_waves_are_described_in_order() {
        let waves = vec![vec!["db".to_string(), "cache".into()], vec!["api".into()]];
        assert_eq!(describe(&waves), ["wave 1/2: db, cache", "wave 2/2: api"]);
        let md = markdown(&waves, &[]);
        assert!(
            md.contains("1. `db` (–), `cache` (–)\n2. `api` (–)"),
            "{md}"
        );
        assert_eq!(markdown(&waves[..1], &[]), "");
        assert_eq!(
            not_deployed(1, &["db".into()]),
            "not deployed: wave 1 failed (db), and this service starts after it"
        );
    }
}
