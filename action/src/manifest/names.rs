//! The naming rules of AWS, git, Docker and URLs, checked when the manifest
//! loads so a bad name fails with its position instead of in an API call,
//! a `git` option or a rendered link.
//!
//! Each check returns why a name is refused, in the words of the rule.

/// An ECS cluster or service name: 1–255 letters, digits, `-` and `_`.
pub fn ecs_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 255 {
        return Err("it must be 1 to 255 characters long".into());
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        Some(c) => Err(format!(
            "{c:?} is not allowed: use letters, digits, `-` and `_` only"
        )),
        None => Ok(()),
    }
}

/// An ECR repository name: 2–256 characters, lowercase components
/// `[a-z0-9]+([._-][a-z0-9]+)*` separated by `/`.
pub fn ecr_repository(name: &str) -> Result<(), String> {
    if name.len() < 2 || name.len() > 256 {
        return Err("it must be 2 to 256 characters long".into());
    }
    for part in name.split('/') {
        lowercase_component(part)?;
    }
    Ok(())
}

/// One `/`-separated part of an ECR repository (or registry path):
/// lowercase letters and digits, single `.`, `_` or `-` between them.
fn lowercase_component(part: &str) -> Result<(), String> {
    if part.is_empty() {
        return Err("it has an empty part between `/`".into());
    }
    let mut previous_separator = true;
    for c in part.chars() {
        let separator = matches!(c, '.' | '_' | '-');
        if !(c.is_ascii_lowercase() || c.is_ascii_digit() || separator) {
            return Err(format!(
                "{c:?} is not allowed: use lowercase letters, digits, and `.`, `_` or `-` between them"
            ));
        }
        if separator && previous_separator {
            return Err(format!(
                "\"{part}\" must start with a letter or digit and have one separator at a time"
            ));
        }
        previous_separator = separator;
    }
    if previous_separator {
        return Err(format!("\"{part}\" must end with a letter or digit"));
    }
    Ok(())
}

/// A branch name git accepts (`git check-ref-format --branch`) and that
/// cannot be read as an option.
pub fn branch(name: &str) -> Result<(), String> {
    let refuse = |why: &str| Err(why.to_string());
    if name.is_empty() || name.len() > 255 {
        return refuse("it must be 1 to 255 characters long");
    }
    if name.starts_with('-') {
        return refuse("it must not start with `-` (git would read it as an option)");
    }
    if let Some(c) = name.chars().find(|c| {
        c.is_ascii_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\')
    }) {
        return Err(format!(
            "{c:?} is not allowed in a git branch name (no spaces, control characters, ~ ^ : ? * [ \\)"
        ));
    }
    if name.contains("..") || name.contains("@{") || name == "@" {
        return refuse("it must not contain `..` or `@{`, nor be `@`");
    }
    if name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        return refuse("it must not start or end with `/`, nor contain `//`");
    }
    if name.ends_with('.') {
        return refuse("it must not end with `.`");
    }
    if name
        .split('/')
        .any(|part| part.starts_with('.') || part.ends_with(".lock"))
    {
        return refuse("no part between `/` may start with `.` or end with `.lock`");
    }
    Ok(())
}

/// A host name, IPv4 address or bracketed IPv6 address, with an optional
/// port 1–65535.
fn host_port(text: &str) -> Result<(), String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return Err("an IPv6 address needs its closing `]`".into());
        };
        if v6.is_empty() || !v6.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return Err(format!("\"[{v6}]\" is not an IPv6 address"));
        }
        match after {
            "" => (None, None),
            p => match p.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None => return Err("write `[address]:port`".into()),
            },
        }
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(text), None),
        }
    };
    if let Some(host) = host {
        dns_name(host)?;
    }
    if let Some(port) = port {
        let ok = !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
        if !ok {
            return Err(format!("port \"{port}\" is not a number from 1 to 65535"));
        }
    }
    Ok(())
}

/// A DNS name or IPv4 address: labels of letters, digits and `-`.
fn dns_name(host: &str) -> Result<(), String> {
    if host.is_empty() || host.len() > 253 {
        return Err("the host name must be 1 to 253 characters long".into());
    }
    for label in host.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(format!(
                "\"{host}\" is not a host name (labels of letters, digits and `-`, separated by `.`)"
            ));
        }
    }
    Ok(())
}

/// A registry: `host[:port][/path]`, or `http://host:port` for a registry
/// without TLS (`https://` is accepted and dropped).
pub fn registry(text: &str) -> Result<(), String> {
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
        .unwrap_or(text);
    if rest.contains("://") {
        return Err("only http:// (a registry without TLS) or no scheme are allowed".into());
    }
    let (authority, path) = match rest.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (rest, None),
    };
    host_port(authority)?;
    if let Some(path) = path.map(|p| p.trim_end_matches('/'))
        && !path.is_empty()
    {
        for part in path.split('/') {
            lowercase_component(part)?;
        }
    }
    Ok(())
}

/// An `http://` or `https://` URL with a host, without characters that
/// would end it early in a log line, a link or a shell.
pub fn http_url(text: &str) -> Result<(), String> {
    let Some(rest) = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
    else {
        return Err("it must start with https:// or http://".into());
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') {
        return Err("it must not carry a user name or password (`user@`)".into());
    }
    host_port(authority)?;
    if let Some(c) = tail
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-._~/?#@!$&+,;=%:".contains(*c)))
    {
        return Err(format!(
            "{c:?} is not allowed in the URL; percent-encode it (e.g. %20 for a space)"
        ));
    }
    Ok(())
}

/// A Cargo package name: letters, digits, `-` and `_`, not starting with a
/// digit or `-`, at most 64 characters.
pub fn crate_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err("it must be 1 to 64 characters long".into());
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return Err("it must start with a letter or `_`".into());
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        Some(c) => Err(format!(
            "{c:?} is not allowed: use letters, digits, `-` and `_` only"
        )),
        None => Ok(()),
    }
}

/// A Docker image tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn image_tag(tag: &str) -> Result<(), String> {
    if tag.is_empty() || tag.len() > 128 {
        return Err(format!(
            "it renders to {} characters; a tag has 1 to 128",
            tag.len()
        ));
    }
    if tag.starts_with(['.', '-']) {
        return Err("it must not start with `.` or `-`".into());
    }
    match tag
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        Some(c) => Err(format!(
            "{c:?} is not allowed: use letters, digits, `_`, `.` and `-` only"
        )),
        None => Ok(()),
    }
}

/// A repository path (Dockerfile, build context, task definition): no
/// control characters, no part that starts with `-` (read as an option).
pub fn repository_path(path: &str) -> Result<(), String> {
    if let Some(c) = path.chars().find(char::is_ascii_control) {
        return Err(format!("{c:?} is not allowed in a path"));
    }
    if path.split('/').any(|p| p.starts_with('-')) {
        return Err("no part may start with `-` (a program would read it as an option)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecs_names() {
        assert!(ecs_name("shop-prod_1").is_ok());
        for bad in ["", "a b; $(id)", "my service", "a/b", "é", &"x".repeat(256)] {
            assert!(ecs_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ecr_repositories() {
        for good in ["shop/api", "a1", "a.b/c-d/e_f", "x/y/z"] {
            assert!(ecr_repository(good).is_ok(), "{good}");
        }
        for bad in [
            "UPPER/Case!!",
            "a",
            "shop//api",
            "/shop",
            "shop/",
            "-a/b",
            "a-/b",
            "a..b",
            "e__f",
            "a b",
        ] {
            assert!(ecr_repository(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn branches() {
        for good in ["release", "release/v1", "main", "a-b_c.d"] {
            assert!(branch(good).is_ok(), "{good}");
        }
        for bad in [
            "--x", "-b", "a..b", "a b", "a~1", "a^", "a:b", "a?", "a*", "a[", "a\\b", "a\nb", "@",
            "a@{1}", "/a", "a/", "a//b", "a.", ".a", "a/.b", "a.lock", "",
        ] {
            assert!(branch(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn registries() {
        for good in [
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "http://127.0.0.1:5001",
            "ghcr.io/acme",
            "[::1]:5000",
            "localhost:5000/",
        ] {
            assert!(registry(good).is_ok(), "{good}");
        }
        for bad in [
            "http://h:99999/x",
            "h:0",
            "h:",
            "h:-1",
            "ftp://h",
            "a b",
            "h/UP",
            "user@h",
            "-h",
            "h..x",
            "[zz]",
        ] {
            assert!(registry(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn urls() {
        for good in [
            "https://shop.example.com",
            "http://127.0.0.1:9090/x?y=1#z",
            "https://[::1]:8443/a",
        ] {
            assert!(http_url(good).is_ok(), "{good}");
        }
        for bad in [
            "javascript:alert(1)",
            "https://",
            "https://a b",
            "https://h/x y",
            "https://h/<script>",
            "https://h/x)",
            "https://u:p@h",
            "data:text/html,x",
            "https://h/\n::error::x",
        ] {
            assert!(http_url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tags_crates_and_paths() {
        assert!(image_tag("api-abc1234-20260101000000").is_ok());
        assert!(image_tag("-x").is_err() && image_tag("a b").is_err());
        assert!(image_tag(&"a".repeat(129)).is_err());
        assert!(crate_name("sample_api").is_ok());
        assert!(crate_name("1x").is_err() && crate_name("a b").is_err());
        assert!(repository_path("services/api/Dockerfile").is_ok());
        assert!(repository_path("services/--x").is_err());
        assert!(repository_path("a\nb").is_err());
    }
}
