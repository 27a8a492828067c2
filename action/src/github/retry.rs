//! Retrying GitHub API calls on server errors and secondary rate limits.
//!
//! GitHub answers 5xx on transient failures and 403/429 with `Retry-After`
//! (or `x-ratelimit-reset`) when a client hits a rate limit. Ferry's calls
//! are few and idempotent where it matters (list, edit, delete), so a
//! bounded retry with exponential backoff is safe; a create is retried only
//! on answers that say the request was not processed.

use std::time::Duration;

use http::{HeaderMap, StatusCode};

/// How many times, and how long, to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in total, the first included.
    pub attempts: u32,
    /// Delay before the first retry; doubled on each further retry.
    pub base_delay: Duration,
    /// Upper bound on any single delay, including a server's `Retry-After`.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy for tests: same logic, millisecond delays.
    pub fn fast() -> Self {
        RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
        }
    }

    /// The delay before retry number `retry` (1-based) after `status`,
    /// or `None` when the answer must not be retried.
    pub fn delay(
        &self,
        retry: u32,
        status: StatusCode,
        headers: &HeaderMap,
        body: &str,
    ) -> Option<Duration> {
        if retry >= self.attempts {
            return None;
        }
        let rate_limited = matches!(
            status,
            StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
        ) && (headers.contains_key("retry-after")
            || header_u64(headers, "x-ratelimit-remaining") == Some(0)
            || body.contains("secondary rate limit"));
        if !(status.is_server_error() || rate_limited) {
            return None;
        }
        let backoff = self.base_delay.saturating_mul(1 << (retry - 1).min(16));
        let server = header_u64(headers, "retry-after")
            .map(Duration::from_secs)
            .or_else(|| {
                let reset = header_u64(headers, "x-ratelimit-reset")?;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .ok()?
                    .as_secs();
                Some(Duration::from_secs(reset.saturating_sub(now)))
            });
        Some(
            server
                .unwrap_or(backoff)
                .max(backoff.min(self.max_delay))
                .min(self.max_delay),
        )
    }
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn retries_server_errors_and_rate_limits_only() {
        let p = RetryPolicy::default();
        let none = HeaderMap::new();
        assert_eq!(
            p.delay(1, StatusCode::BAD_GATEWAY, &none, ""),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            p.delay(2, StatusCode::BAD_GATEWAY, &none, ""),
            Some(Duration::from_secs(2))
        );
        assert_eq!(p.delay(4, StatusCode::BAD_GATEWAY, &none, ""), None);
        assert_eq!(p.delay(1, StatusCode::NOT_FOUND, &none, ""), None);
        assert_eq!(
            p.delay(1, StatusCode::FORBIDDEN, &none, "Resource not accessible"),
            None
        );
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(
            p.delay(1, StatusCode::FORBIDDEN, &h, ""),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            p.delay(
                1,
                StatusCode::FORBIDDEN,
                &none,
                "You have exceeded a secondary rate limit"
            ),
            Some(Duration::from_secs(1))
        );
    }
}
