//! The worker's record of idempotency keys: which keys are being processed now
//! and which were processed recently, so that a task queued twice (a client
//! retrying a request whose first answer was a 503 "may have been queued") is
//! sent once.
//!
//! Bounded in time and memory: a completed key is remembered for `window`, and
//! at most `cap` completed keys are kept (the oldest are forgotten first when
//! more keys complete within one window). Keys being processed are not counted in
//! `cap`; there are at most `WORKER_CONCURRENCY` of them. Plain data: every
//! operation takes the current time, so tests drive the clock.

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Fingerprint of a message body, to tell a plain duplicate from a key reused
/// for a different task.
pub fn body_fingerprint(body: &str) -> u64 {
    let mut h = DefaultHasher::new();
    body.hash(&mut h);
    h.finish()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A message with this key is being processed.
    Claimed,
    /// Processed at `at`; `body` is the fingerprint of that task.
    Done { at: Instant, body: u64 },
}

/// What to do with a message whose key is `key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// First time in the window: process it, then [`SeenKeys::complete`] or
    /// [`SeenKeys::release`].
    New,
    /// Another message with this key is being processed right now: leave this
    /// one in the queue; it comes back after its visibility timeout, and is then
    /// either a duplicate of a completed task or (if the other failed) processed.
    Busy,
    /// Already processed within the window: delete it without processing.
    /// `same_body` is false when the key was reused for a different task.
    Duplicate {
        /// Whether the body matches the processed task's.
        same_body: bool,
    },
}

/// The bounded, time-windowed record of keys.
#[derive(Debug)]
pub struct SeenKeys {
    window: Duration,
    cap: usize,
    keys: HashMap<Arc<str>, State>,
    /// Completed keys, oldest first (completion times only grow).
    done: VecDeque<(Instant, Arc<str>)>,
    evicted_early: u64,
}

impl SeenKeys {
    /// An empty record remembering completed keys for `window`, at most `cap` of
    /// them (`cap` 0 is taken as 1).
    pub fn new(window: Duration, cap: usize) -> Self {
        Self {
            window,
            cap: cap.max(1),
            keys: HashMap::new(),
            done: VecDeque::new(),
            evicted_early: 0,
        }
    }

    /// Decides about a message with `key` and body fingerprint `body`; on
    /// [`Claim::New`] the key is claimed until completed or released.
    pub fn claim(&mut self, key: &str, body: u64, now: Instant) -> Claim {
        self.expire(now);
        match self.keys.get(key) {
            Some(State::Claimed) => Claim::Busy,
            Some(State::Done { body: b, .. }) => Claim::Duplicate {
                same_body: *b == body,
            },
            None => {
                self.keys.insert(Arc::from(key), State::Claimed);
                Claim::New
            }
        }
    }

    /// The claimed task with `key` succeeded at `now`: remember it for the window.
    pub fn complete(&mut self, key: &str, body: u64, now: Instant) {
        self.expire(now);
        let Some((k, state)) = self.keys.get_key_value(key) else {
            return;
        };
        if *state != State::Claimed {
            return;
        }
        let k = k.clone();
        self.keys.insert(k.clone(), State::Done { at: now, body });
        self.done.push_back((now, k));
        while self.done.len() > self.cap {
            if self.pop_oldest() {
                self.evicted_early += 1;
            }
        }
    }

    /// The claimed task with `key` failed or was abandoned: forget the claim, so
    /// that its redelivery is processed.
    pub fn release(&mut self, key: &str) {
        if self.keys.get(key) == Some(&State::Claimed) {
            self.keys.remove(key);
        }
    }

    /// Keys held now (claimed and completed).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Completed keys forgotten before their window ended because of `cap`: a
    /// duplicate of one of them would be processed again.
    pub fn evicted_early(&self) -> u64 {
        self.evicted_early
    }

    fn expire(&mut self, now: Instant) {
        while let Some((at, _)) = self.done.front() {
            if now.saturating_duration_since(*at) < self.window {
                break;
            }
            self.pop_oldest();
        }
    }

    /// Forgets the oldest completed key; false if there was none to forget.
    fn pop_oldest(&mut self) -> bool {
        let Some((at, key)) = self.done.pop_front() else {
            return false;
        };
        // Only if it still is that completion (never re-claimed since).
        if matches!(self.keys.get(&key), Some(State::Done { at: a, .. }) if *a == at) {
            self.keys.remove(&key);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: Duration = Duration::from_secs(3600);

    #[test]
    fn a_completed_key_is_a_duplicate_for_the_window_then_new() {
        let t0 = Instant::now();
        let mut s = SeenKeys::new(H, 100);
        assert_eq!(s.claim("k", 1, t0), Claim::New);
        s.complete("k", 1, t0);
        let just_before = t0 + H - Duration::from_millis(1);
        assert_eq!(
            s.claim("k", 1, just_before),
            Claim::Duplicate { same_body: true }
        );
        assert_eq!(
            s.claim("k", 2, just_before),
            Claim::Duplicate { same_body: false }
        );
        assert_eq!(
            s.claim("k", 1, t0 + H),
            Claim::New,
            "expired exactly at the window"
        );
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn a_claimed_key_is_busy_and_a_failure_frees_it() {
        let t0 = Instant::now();
        let mut s = SeenKeys::new(H, 100);
        assert_eq!(s.claim("k", 1, t0), Claim::New);
        assert_eq!(s.claim("k", 1, t0), Claim::Busy);
        // A claimed key never expires: it is not done yet.
        assert_eq!(s.claim("k", 1, t0 + 10 * H), Claim::Busy);
        s.release("k");
        assert!(s.is_empty());
        assert_eq!(
            s.claim("k", 1, t0 + 10 * H),
            Claim::New,
            "a redelivery is processed"
        );
    }

    #[test]
    fn release_and_complete_ignore_keys_in_other_states() {
        let t0 = Instant::now();
        let mut s = SeenKeys::new(H, 100);
        s.complete("never-claimed", 1, t0);
        s.release("never-claimed");
        assert!(s.is_empty());
        assert_eq!(s.claim("k", 1, t0), Claim::New);
        s.complete("k", 1, t0);
        s.release("k"); // a late release must not forget a completed key
        s.complete("k", 9, t0 + H / 2); // nor a second completion extend or change it
        assert_eq!(
            s.claim("k", 1, t0 + H / 2),
            Claim::Duplicate { same_body: true }
        );
        assert_eq!(s.claim("k", 1, t0 + H), Claim::New);
    }

    #[test]
    fn the_cap_forgets_the_oldest_completed_keys_first() {
        let t0 = Instant::now();
        let mut s = SeenKeys::new(H, 3);
        for (i, k) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            let at = t0 + Duration::from_secs(i as u64);
            assert_eq!(s.claim(k, 0, at), Claim::New);
            s.complete(k, 0, at);
        }
        let now = t0 + Duration::from_secs(10);
        assert_eq!(s.len(), 3);
        assert_eq!(s.evicted_early(), 2);
        for k in ["c", "d", "e"] {
            assert_eq!(
                s.claim(k, 0, now),
                Claim::Duplicate { same_body: true },
                "{k}"
            );
        }
        assert_eq!(s.claim("a", 0, now), Claim::New);
    }

    #[test]
    fn claimed_keys_survive_the_cap() {
        let t0 = Instant::now();
        let mut s = SeenKeys::new(H, 2);
        assert_eq!(s.claim("busy", 0, t0), Claim::New);
        for i in 0..10 {
            let k = format!("k{i}");
            s.claim(&k, 0, t0);
            s.complete(&k, 0, t0);
        }
        assert_eq!(s.claim("busy", 0, t0), Claim::Busy);
        assert_eq!(s.len(), 3, "2 completed + 1 claimed");
    }

    #[test]
    fn a_key_expired_and_completed_again_is_remembered_from_its_new_completion() {
        let t0 = Instant::now();
        let mut s = SeenKeys::new(H, 10);
        s.claim("k", 0, t0);
        s.complete("k", 0, t0);
        let t1 = t0 + H + Duration::from_secs(1);
        assert_eq!(s.claim("k", 0, t1), Claim::New);
        s.complete("k", 0, t1);
        assert_eq!(
            s.claim("k", 0, t1 + H / 2),
            Claim::Duplicate { same_body: true }
        );
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_keys() {
        let t0 = Instant::now();
        let mut s = SeenKeys::new(H, 1000);
        for i in 0..200_000u64 {
            let k = format!("{i:0>128}");
            let at = t0 + Duration::from_micros(i);
            assert_eq!(s.claim(&k, i, at), Claim::New);
            s.complete(&k, i, at);
            assert!(s.keys.len() <= 1000 && s.done.len() <= 1000);
        }
        assert_eq!(s.evicted_early(), 199_000);
        // Expiry alone also empties it.
        s.claim("x", 0, t0 + 2 * H);
        assert_eq!(s.len(), 1);
        assert_eq!(s.done.len(), 0);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Claim(u8, u8),
        Complete(u8, u8),
        Release(u8),
        Wait(u16),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            (0u8..20, 0u8..3).prop_map(|(k, b)| Op::Claim(k, b)),
            (0u8..20, 0u8..3).prop_map(|(k, b)| Op::Complete(k, b)),
            (0u8..20).prop_map(Op::Release),
            (0u16..200).prop_map(Op::Wait),
        ]
    }

    proptest::proptest! {
        /// Any sequence of operations against a reference model: the same
        /// answers, and never more than `cap` completed keys held.
        #[test]
        fn behaves_like_the_model(ops in proptest::collection::vec(op(), 0..300), cap in 1usize..6) {
            let window = Duration::from_secs(100);
            let t0 = Instant::now();
            let mut now = t0;
            let mut s = SeenKeys::new(window, cap);
            // key -> None (claimed) | Some((completed at, body)); completion order.
            let mut model: HashMap<u8, Option<(Instant, u64)>> = HashMap::new();
            let mut order: VecDeque<u8> = VecDeque::new();
            for op in ops {
                // The record expires on claim and complete only; so does the model.
                if matches!(op, Op::Claim(..) | Op::Complete(..)) {
                    while let Some(k) = order.front().copied() {
                        match model.get(&k) {
                            Some(Some((at, _))) if now.duration_since(*at) >= window => {
                                model.remove(&k);
                                order.pop_front();
                            }
                            _ => break,
                        }
                    }
                }
                match op {
                    Op::Claim(k, b) => {
                        let want = match model.get(&k) {
                            Some(None) => Claim::Busy,
                            Some(Some((_, mb))) => Claim::Duplicate { same_body: *mb == u64::from(b) },
                            None => {
                                model.insert(k, None);
                                Claim::New
                            }
                        };
                        proptest::prop_assert_eq!(s.claim(&k.to_string(), u64::from(b), now), want);
                    }
                    Op::Complete(k, b) => {
                        s.complete(&k.to_string(), u64::from(b), now);
                        if model.get(&k) == Some(&None) {
                            model.insert(k, Some((now, u64::from(b))));
                            order.push_back(k);
                            while order.len() > cap {
                                if let Some(old) = order.pop_front() {
                                    model.remove(&old);
                                }
                            }
                        }
                    }
                    Op::Release(k) => {
                        s.release(&k.to_string());
                        if model.get(&k) == Some(&None) {
                            model.remove(&k);
                        }
                    }
                    Op::Wait(ms) => now += Duration::from_millis(u64::from(ms) * 100),
                }
                proptest::prop_assert!(s.done.len() <= cap);
                proptest::prop_assert_eq!(s.len(), model.len());
            }
        }
    }

    #[test]
    fn fingerprints_tell_bodies_apart() {
        assert_eq!(body_fingerprint("a"), body_fingerprint("a"));
        assert_ne!(body_fingerprint("a"), body_fingerprint("b"));
    }
}
