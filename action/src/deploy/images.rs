//! The `images` input of `deploy` and `gate`: which image each service runs.
//!
//! Accepts what the workflows have at hand: `ferry build`'s `images` output
//! (a JSON object of `{service: {image, tag, ...}}`, several merged with
//! `jq -s add`), a JSON object of `{service: uri}`, or `service=uri` pairs
//! separated by commas or newlines.

use std::collections::BTreeMap;

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
                            "`images`: the entry of `{service}` has no image (give a URI, or build's {{\"image\": URI}})"
                        )
                    })?;
                Ok((service.clone(), checked(service, uri)?))
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
            format!("`images`: `{entry}` is not service=URI (or give build's `images` JSON)")
        })?;
        let service = service.trim();
        if out
            .insert(service.to_string(), checked(service, uri.trim())?)
            .is_some()
        {
            return Err(format!("`images`: `{service}` is given twice"));
        }
    }
    Ok(out)
}

fn checked(service: &str, uri: &str) -> Result<String, String> {
    if uri.is_empty() || uri.chars().any(char::is_whitespace) {
        return Err(format!(
            "`images`: the image of `{service}` is `{uri}`: give a URI like REGISTRY/REPOSITORY@sha256:DIGEST"
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
