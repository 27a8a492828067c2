//! The idempotency-key record's real memory, measured as the process's peak
//! resident set (Linux `VmHWM`) under a flood of distinct, longest-possible keys:
//! a record that kept every key would hold hundreds of MB here. Its own test
//! binary, so no other test's allocations are counted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use sampleworker::{Claim, SeenKeys};

/// Peak resident set of this process, in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_flood_of_keys_stays_within_the_cap_in_memory() {
    const CAP: usize = 10_000;
    const KEYS: u64 = 1_000_000;
    let before = peak_rss_kib();
    let mut seen = SeenKeys::new(Duration::from_secs(86_400), CAP);
    let t0 = Instant::now();
    for i in 0..KEYS {
        let key = format!("{i:0>128}");
        let now = t0 + Duration::from_micros(i);
        assert_eq!(seen.claim(&key, i, now), Claim::New);
        seen.complete(&key, i, now);
    }
    assert_eq!(seen.len(), CAP);
    assert_eq!(seen.evicted_early(), KEYS - CAP as u64);
    let grown_kib = peak_rss_kib().saturating_sub(before);
    println!(
        "{KEYS} keys of 128 bytes through a record capped at {CAP}: peak RSS grew {grown_kib} KiB"
    );
    // 1,000,000 keys of 128 bytes are 122 MiB of key bytes alone; the record
    // keeps 10,000 (≈ 1.2 MiB of keys) plus its tables.
    assert!(grown_kib < 16 * 1024, "peak RSS grew {grown_kib} KiB");
}
