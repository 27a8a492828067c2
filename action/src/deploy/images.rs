//! The `images` input of `deploy` and `gate`: which image each service runs.
//!
//! Accepts what the workflows have at hand: `ferry build`'s `images` output
//! (a JSON object of `{service: {image, tag, ...}}`, several merged with
//! `jq -s add`), a JSON object of `{service: uri}`, or `service=uri` pairs
//! separated by commas or newlines.

use std::collections::BTreeMap;

use crate::gha::quote;

/// Parses the input; every problem names the entry and the fix.
pub fn parse(text: &str) -> Result<BTreeMap<String, String>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(BTreeMap::new());
    }
    if text.starts_with('{') {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("`images` is not valid JSON ({e})"))?;
        let Some(map) = value.as_object() else {
            return Err("`images` must be a JSON object of service → image".into());
        };
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
    let mut out = BTreeMap::new();
    for entry in text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let (service, uri) = entry.split_once('=').ok_or_else(|| {
            format!(
                "`images`: {} is not service=URI (or give build's `images` JSON)",
                quote(entry)
            )
        })?;
        let service = named(service.trim())?;
        let uri = checked(&service, uri.trim())?;
        if out.contains_key(&service) {
            return Err(format!("`images`: {} is given twice", quote(&service)));
        }
        out.insert(service, uri);
    }
    Ok(out)
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
