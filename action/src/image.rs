//! Image references (`registry/repository:tag`, `repository@sha256:…`) as
//! the reports show them.

/// The first 12 hex digits of an image's digest (`sha256:1a2b3c4d5e6f`), or its tag.
pub fn short_image(image: &str) -> String {
    if let Some((_, digest)) = image.rsplit_once('@') {
        let (algo, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
        return format!("{algo}:{}", hex.chars().take(12).collect::<String>());
    }
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') && !repo.is_empty() => tag.to_string(),
        _ => image.to_string(),
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
    }
}
