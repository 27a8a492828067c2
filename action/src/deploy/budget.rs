//! A client-side rate budget for RegisterTaskDefinition. ECS allows about
//! one registration per second sustained with a small burst; a deploy of
//! many services would otherwise spend its first seconds being throttled and
//! retried. The bucket itself is pure (time is an argument), so it is tested
//! with a fake clock; [`Budget`] puts it behind a lock and sleeps for real.

use std::time::Duration;

/// A token bucket: `burst` tokens at most, refilled at `per_second`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    burst: f64,
    per_second: f64,
    tokens: f64,
    last: Duration,
}

impl TokenBucket {
    /// A full bucket at time `now` (any monotonic origin).
    pub fn new(per_second: f64, burst: u32, now: Duration) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            burst,
            per_second: per_second.max(f64::MIN_POSITIVE),
            tokens: burst,
            last: now,
        }
    }

    fn refill(&mut self, now: Duration) {
        let elapsed = now.saturating_sub(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.last = self.last.max(now);
    }

    /// Takes a token at `now`, or says how long to wait before one is there.
    pub fn try_take(&mut self, now: Duration) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) / self.per_second,
            ))
        }
    }
}

/// The shared budget of one deploy: tasks await a token before registering.
#[derive(Debug)]
pub struct Budget {
    start: tokio::time::Instant,
    bucket: tokio::sync::Mutex<TokenBucket>,
}

impl Budget {
    /// `per_second` sustained, `burst` at once.
    pub fn new(per_second: f64, burst: u32) -> Self {
        Self {
            start: tokio::time::Instant::now(),
            bucket: tokio::sync::Mutex::new(TokenBucket::new(per_second, burst, Duration::ZERO)),
        }
    }

    /// Waits until a token is available and takes it.
    pub async fn take(&self) {
        loop {
            let wait = {
                let mut bucket = self.bucket.lock().await;
                match bucket.try_take(self.start.elapsed()) {
                    Ok(()) => return,
                    Err(wait) => wait,
                }
            };
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let mut b = TokenBucket::new(1.0, 3, at(0));
        for _ in 0..3 {
            assert_eq!(b.try_take(at(0)), Ok(()));
        }
        // Empty: the next token is a full second away.
        assert_eq!(b.try_take(at(0)), Err(at(1000)));
        assert_eq!(b.try_take(at(400)), Err(at(600)));
        assert_eq!(b.try_take(at(1000)), Ok(()));
        assert!(b.try_take(at(1500)).is_err());
        assert_eq!(b.try_take(at(2000)), Ok(()));
    }

    #[test]
    fn an_idle_bucket_holds_no_more_than_the_burst() {
        let mut b = TokenBucket::new(1.0, 2, at(0));
        assert_eq!(b.try_take(at(0)), Ok(()));
        assert_eq!(b.try_take(at(0)), Ok(()));
        // An hour idle refills to 2, not 3600.
        let hour = 3_600_000;
        assert_eq!(b.try_take(at(hour)), Ok(()));
        assert_eq!(b.try_take(at(hour)), Ok(()));
        assert!(b.try_take(at(hour)).is_err());
    }

    #[test]
    fn twenty_registrations_at_one_per_second_after_a_burst_of_five() {
        let mut b = TokenBucket::new(1.0, 5, at(0));
        let mut now = at(0);
        for _ in 0..20 {
            while let Err(wait) = b.try_take(now) {
                now += wait;
            }
        }
        assert_eq!(now.as_secs_f64().round(), 15.0);
    }

    #[test]
    fn a_clock_going_backwards_does_not_mint_tokens() {
        let mut b = TokenBucket::new(1.0, 1, at(5000));
        assert_eq!(b.try_take(at(5000)), Ok(()));
        assert!(b.try_take(at(1000)).is_err());
        assert!(b.try_take(at(5500)).is_err());
        assert_eq!(b.try_take(at(6000)), Ok(()));
    }

    #[tokio::test]
    async fn the_shared_budget_waits_for_tokens() {
        // 50 a second after a burst of 1: five takes need 80 ms at least.
        let budget = Budget::new(50.0, 1);
        let start = tokio::time::Instant::now();
        for _ in 0..5 {
            budget.take().await;
        }
        let ms = start.elapsed().as_millis();
        assert!((80..1000).contains(&ms), "{ms} ms");
    }
}
