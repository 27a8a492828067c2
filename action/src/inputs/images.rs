//! The `images` input of `deploy` and `gate`: which image each service runs.
//!
//! Accepts what the workflows have at hand: `ferry build`'s `images` output
//! (a JSON object of `{service: {image, tag, ...}}`, several merged with
//! `jq -s add`), a JSON object of `{service: uri}`, or `service=uri` pairs
//! separated by commas or newlines; the flag may be repeated. One rule for
//! a service named twice, wherever: the same image again is fine, two
//! different images are refused, naming both.

use std::collections::BTreeMap;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use crate::text::quote;

/// Reads every value given (`--images` repeated) into one map.
pub fn parse_all<S: AsRef<str>>(values: &[S]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for value in values {
        for (service, image) in entries(value.as_ref())? {
            add(&mut out, service, image)?;
        }
    }
    Ok(out)
}

/// Reads one value; every problem names the entry and the fix.
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, String> {
    parse_all(&[text])
}

/// Adds one entry under the duplicate rule.
fn add(out: &mut BTreeMap<String, String>, service: String, image: String) -> Result<(), String> {
    match out.get(&service) {
        Some(old) if *old != image => Err(format!(
            "`images`: {} is given twice, with {} and {}",
            quote(&service),
            quote(old),
            quote(&image)
        )),
        Some(_) => Ok(()),
        None => {
            out.insert(service, image);
            Ok(())
        }
    }
}

/// The entries of one value, in the order given (duplicates kept).
fn entries(text: &str) -> Result<Vec<(String, String)>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    if text.starts_with('{') {
        let Entries(map) =
            serde_json::from_str(text).map_err(|e| format!("`images` is not valid JSON ({e})"))?;
        return map
            .iter()
            .map(|(service, v)| {
                let uri = v
                    .as_str()
                    .or_else(|| v.get("image").and_then(|i| i.as_str()))
                    .ok_or_else(|| {
                        format!(
                            "`images`: the entry of {} has no image (give a URI, or build's {{\"image\": URI}})",
                            quote(service)
                        )
                    })?;
                Ok((named(service)?, checked(service, uri)?))
            })
            .collect();
    }
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let (service, uri) = entry.split_once('=').ok_or_else(|| {
                format!(
                    "`images`: {} is not service=URI (or give build's `images` JSON)",
                    quote(entry)
                )
            })?;
            let service = named(service.trim())?;
            let uri = checked(&service, uri.trim())?;
            Ok((service, uri))
        })
        .collect()
}

/// A JSON object's members in order, a key given twice kept twice (a
/// `serde_json::Map` would keep only the last).
struct Entries(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object of service → image")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, serde_json::Value>()? {
                    out.push(entry);
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(Members)
    }
}

fn named(service: &str) -> Result<String, String> {
    if service.is_empty() || service.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "`images`: {} is not a service name: give service=URI pairs",
            quote(service)
        ));
    }
    Ok(service.to_string())
}

fn checked(service: &str, uri: &str) -> Result<String, String> {
    if uri.is_empty()
        || uri.starts_with('-')
        || uri.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "`images`: the image of {} is {}: give a URI like REGISTRY/REPOSITORY@sha256:DIGEST",
            quote(service),
            quote(uri)
        ));
    }
    Ok(uri.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn build_output_merged_by_jq_is_read() {
        let text = r#"{"sampleapi":{"image":"r/a@sha256:1","tag":"t","reused":false},"sampleworker":{"image":"r/w@sha256:2"}}"#;
        let m = parse(text).unwrap();
        assert_eq!(m["sampleapi"], "r/a@sha256:1");
        assert_eq!(m["sampleworker"], "r/w@sha256:2");
    }

    #[test]
    fn pairs_and_plain_maps_are_read() {
        assert_eq!(parse("a=r/a:1, b=r/b@sha256:2\n").unwrap().len(), 2);
        assert_eq!(parse(r#"{"a":"r/a:1"}"#).unwrap()["a"], "r/a:1");
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn bad_entries_say_what_to_fix() {
        assert!(parse("{not json").unwrap_err().contains("not valid JSON"));
        assert!(
            parse(r#"{"a":{"tag":"x"}}"#)
                .unwrap_err()
                .contains("`a` has no image")
        );
        assert!(parse("a r/a:1").unwrap_err().contains("not service=URI"));
        assert!(
            parse("a=r/a:1,a=r/a:2")
                .unwrap_err()
                .contains("given twice")
        );
        assert_eq!(parse("a=r/a:1,a=r/a:1").unwrap().len(), 1);
        assert!(parse("a=").unwrap_err().contains("image of `a`"));
        assert!(parse("[1]").unwrap_err().contains("not service=URI"));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod properties {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::parse;

    fn safe(text: &str) -> bool {
        !text.is_empty() && !text.chars().any(|c| c.is_whitespace() || c.is_control())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any text: a map of safe names to safe URIs, or an error about
        /// `images` on one short line (outside text escaped).
        #[test]
        fn any_text_is_read_safely_or_refused_clearly(
            text in prop_oneof![
                any::<String>(),
                "[a-z=,\n {}\":\\[\\]-]{0,40}",
                "\\{.{0,40}",
                "([a-z-]{0,6}=[-a-z:/@\t\u{2028}]{0,12}[,\n]){0,4}",
            ],
        ) {
            match parse(&text) {
                Ok(map) => {
                    for (service, uri) in &map {
                        prop_assert!(safe(service), "{service:?}");
                        prop_assert!(safe(uri) && !uri.starts_with('-'), "{uri:?}");
                    }
                }
                Err(e) => {
                    prop_assert!(e.starts_with("`images`"), "{e}");
                    prop_assert!(!e.chars().any(char::is_control), "{e:?}");
                    prop_assert!(e.chars().count() < 400, "{e}");
                }
            }
        }

        /// The three accepted shapes of one map read the same.
        #[test]
        fn pairs_plain_json_and_build_output_agree(
            map in prop::collection::btree_map("[a-z][a-z0-9-]{0,15}", "[a-z0-9][a-z0-9./:@-]{0,40}", 1..6),
        ) {
            let pairs: Vec<String> = map.iter().map(|(s, u)| format!("{s}={u}")).collect();
            prop_assert_eq!(&parse(&pairs.join(",")).unwrap(), &map);
            prop_assert_eq!(&parse(&pairs.join("\n")).unwrap(), &map);
            let plain = serde_json::to_string(&map).unwrap();
            prop_assert_eq!(&parse(&plain).unwrap(), &map);
            let built: BTreeMap<&String, serde_json::Value> = map
                .iter()
                .map(|(s, u)| (s, serde_json::json!({"image": u, "tag": "t"})))
                .collect();
            prop_assert_eq!(&parse(&serde_json::to_string(&built).unwrap()).unwrap(), &map);
        }
    }
}
