//! Image references (`registry/repository:tag`, `repository@sha256:…`): one
//! parser ([`ImageRef`]) and each form a report, the gate, telemetry and the
//! canary analysis need of it.

/// The parts of an image reference. The name ends at the first `@` (a name
/// cannot hold one, and Jsonnet's `imageVersion` splits there too); the tag
/// is what follows the last `:` of the name's last `/` segment, so a
/// registry's port is never read as a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// `registry/repository`, without tag or digest.
    pub name: &'a str,
    /// The tag, when the reference has one.
    pub tag: Option<&'a str>,
    /// Everything after the `@` (`sha256:…`), when pinned.
    pub digest: Option<&'a str>,
}

impl<'a> ImageRef<'a> {
    /// Splits a reference; never fails (the parts are as given, unchecked:
    /// [`pinned_digest`] checks a digest).
    pub fn parse(image: &'a str) -> Self {
        let (name, digest) = match image.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (image, None),
        };
        let last = name.rfind('/').map_or(0, |i| i + 1);
        match name[last..].rfind(':') {
            Some(colon) => Self {
                name: &name[..last + colon],
                tag: Some(&name[last + colon + 1..]),
                digest,
            },
            None => Self {
                name,
                tag: None,
                digest,
            },
        }
    }
}

/// The digest part of a reference (`repo@sha256:…` → `sha256:…`), unchecked.
pub fn digest(image: &str) -> Option<&str> {
    ImageRef::parse(image).digest
}

/// The digest of a reference pinned by one: an algorithm of OCI's
/// characters and at least 32 hex digits (`sha256:…`); else None.
pub fn pinned_digest(image: &str) -> Option<&str> {
    let d = digest(image)?;
    let (algo, hex) = d.split_once(':')?;
    let algo_ok = !algo.is_empty()
        && algo
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'_' | b'-'));
    (algo_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(d)
}

/// `sha256:` and the first 12 hex digits of a digest; `default_algo` names
/// a digest written without its algorithm (None: none is shown).
fn short_digest(d: &str, default_algo: Option<&str>) -> String {
    match (d.split_once(':'), default_algo) {
        (Some((algo, hex)), _) => format!("{algo}:{}", hex.chars().take(12).collect::<String>()),
        (None, Some(algo)) => format!("{algo}:{}", d.chars().take(12).collect::<String>()),
        (None, None) => d.chars().take(12).collect(),
    }
}

/// The first 12 hex digits of an image's digest (`sha256:1a2b3c4d5e6f`), or
/// its tag, or the reference as given: the reports' short form.
pub fn short_image(image: &str) -> String {
    let r = ImageRef::parse(image);
    match (r.digest, r.tag) {
        (Some(d), _) => short_digest(d, Some("sha256")),
        (None, Some(tag)) if !r.name.is_empty() => tag.to_string(),
        _ => image.to_string(),
    }
}

/// The version a service reports for an image reference: the tag, or for
/// an image pinned by digest only `sha256:` and the digest's first 12 hex
/// digits, else `latest`. The task definitions derive `SERVICE_VERSION` by
/// the same rule (`imageVersion` in task-definitions/lib/base.libsonnet);
/// both must agree, or the canary analysis finds no data and fails closed.
pub fn version(image: &str) -> String {
    let r = ImageRef::parse(image);
    match (r.tag, r.digest) {
        (Some(tag), _) => tag.to_string(),
        (None, Some(d)) => short_digest(d, None),
        (None, None) => "latest".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_shortened_for_the_table() {
        assert_eq!(
            short_image("1.dkr.ecr.us-east-1.amazonaws.com/shop/api@sha256:1a2b3c4d5e6f7a8b9c"),
            "sha256:1a2b3c4d5e6f"
        );
        assert_eq!(
            short_image("localhost:5000/shop/api:api-abc1234"),
            "api-abc1234"
        );
        assert_eq!(
            short_image("localhost:5000/shop/api"),
            "localhost:5000/shop/api"
        );
        assert_eq!(
            short_image("r/api:v1@sha256:0123456789abcdef00"),
            "sha256:0123456789ab"
        );
        assert_eq!(
            short_image("r/api@0123456789abcdef00"),
            "sha256:0123456789ab"
        );
    }

    #[test]
    fn references_split_at_the_first_at_and_the_last_segment() {
        assert_eq!(
            ImageRef::parse("127.0.0.1:5001/p/api:v2@sha256:ab"),
            ImageRef {
                name: "127.0.0.1:5001/p/api",
                tag: Some("v2"),
                digest: Some("sha256:ab")
            }
        );
        assert_eq!(ImageRef::parse("127.0.0.1:5001/p/api").tag, None);
        assert_eq!(digest("r/api@sha256:ab"), Some("sha256:ab"));
        assert_eq!(digest("r/api:v1"), None);
    }

    #[test]
    fn only_a_real_digest_pins() {
        let hex = "0123456789abcdef".repeat(4);
        assert_eq!(
            pinned_digest(&format!("r/api@sha256:{hex}")),
            Some(format!("sha256:{hex}").as_str())
        );
        assert_eq!(pinned_digest("r/api@sha256:abc"), None, "too short");
        assert_eq!(pinned_digest(&format!("r/api@sha256:{}z", &hex[1..])), None);
        assert_eq!(
            pinned_digest(&format!("r/api@:{hex}")),
            None,
            "no algorithm"
        );
        assert_eq!(pinned_digest(&format!("a@b@sha256:{hex}")), None, "two @");
        assert_eq!(pinned_digest("r/api:v1"), None);
    }

    #[test]
    fn the_version_is_the_tag_or_a_short_digest() {
        assert_eq!(version("r.example/p/api:api-abc1234-1"), "api-abc1234-1");
        assert_eq!(version("127.0.0.1:5001/p/api:v2"), "v2");
        assert_eq!(
            version("127.0.0.1:5001/p/api@sha256:0123456789abcdef00"),
            "sha256:0123456789ab"
        );
        assert_eq!(version("r/p/api:v3@sha256:0123456789abcdef00"), "v3");
        assert_eq!(version("127.0.0.1:5001/p/api"), "latest");
    }
}
