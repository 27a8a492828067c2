//! The hidden block of change digests under a plan comment's metadata
//! line: written ([`changes_block`], [`with_changes`]) and read back
//! ([`changes_in`]), every address encoded so that nothing in it can end
//! the HTML comment.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::digest::{ACTION_WORDS, ChangeDigest, ChangeKind, hex};
use super::marker::meta_in;

/// The first line of the change-digest block.
const CHANGES_HEAD: &str = "<!-- ferry:plan-changes v1";
/// The block's last line.
const CHANGES_TAIL: &str = "-->";

/// The hidden block of change digests written under the metadata line:
/// one line per change, `<kind> <action> <digest> <shared> <rest>`, sorted
/// by address, each address written as the number of bytes it shares with
/// the one before and the rest, percent-encoded so that nothing in it can
/// end the HTML comment (no `--`, `<`, `>`, space or line break).
pub fn changes_block(changes: &[ChangeDigest]) -> String {
    let mut out = format!("{CHANGES_HEAD} n={}\n", changes.len());
    let mut previous = "";
    for c in changes {
        let shared = shared_prefix(previous, &c.address);
        let _ = writeln!(
            out,
            "{} {} {} {shared} {}",
            c.kind.code(),
            c.action,
            c.digest,
            encode_address(&c.address[shared..])
        );
        previous = &c.address;
    }
    out.push_str(CHANGES_TAIL);
    out
}

/// Bytes two addresses share at the start, on a character boundary.
fn shared_prefix(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or_else(|| a.len().min(b.len()), |((i, _), _)| i)
        .min(b.len())
}

fn encode_address(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last = ' ';
    for b in s.bytes() {
        let plain =
            b.is_ascii_alphanumeric() || b"_.[]\"/:()".contains(&b) || (b == b'-' && last != '-');
        if plain {
            out.push(b as char);
            last = b as char;
        } else {
            let _ = write!(out, "%{b:02X}");
            last = 'X';
        }
    }
    out
}

fn decode_address(s: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(s.len());
    let raw = s.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            bytes.push(raw[i]);
            i += 1;
        }
    }
    String::from_utf8(bytes).ok()
}

/// The change-digest block right under the metadata line, as written.
pub(super) fn block_in(body: &str) -> Option<&str> {
    let mut lines = body.split_inclusive('\n');
    let head = lines.next()?.len() + lines.next()?.len();
    let rest = &body[head..];
    if !rest.starts_with(CHANGES_HEAD) {
        return None;
    }
    let end = rest.find(&format!("\n{CHANGES_TAIL}"))? + 1 + CHANGES_TAIL.len();
    Some(&rest[..end])
}

/// The digest of a block, recorded (and signed) in the metadata line.
pub(super) fn block_digest(block: &str) -> String {
    hex(&Sha256::digest(block.as_bytes()))
}

/// `body` with `block` right under its metadata line, replacing any block
/// already there.
pub fn with_changes(body: &str, block: &str) -> String {
    let head: String = body.split_inclusive('\n').take(2).collect();
    let mut rest = &body[head.len()..];
    if let Some(old) = block_in(body) {
        rest = &rest[old.len()..];
        rest = rest.strip_prefix('\n').unwrap_or(rest);
    }
    let sep = if head.ends_with('\n') { "" } else { "\n" };
    format!("{head}{sep}{block}\n{rest}")
}

/// The change digests a believed comment records: `Ok(None)` when it has
/// none (written by an older Ferry, or too many changes to record);
/// an error, saying what is wrong, when the block is missing, cut short,
/// altered or unreadable although the metadata says there is one.
pub fn changes_in(body: &str) -> Result<Option<Vec<ChangeDigest>>, String> {
    let Some(meta) = meta_in(body) else {
        return Err("it has no plan metadata line under the marker".into());
    };
    let Some(want) = meta.changes else {
        return Ok(None);
    };
    let block = block_in(body).ok_or("its change digests are missing or cut short")?;
    if block_digest(block) != want {
        return Err("its change digests do not match its metadata (altered or cut short)".into());
    }
    let mut lines = block.lines();
    let head = lines.next().unwrap_or_default();
    let count: usize = head
        .strip_prefix(CHANGES_HEAD)
        .and_then(|r| r.trim().strip_prefix("n="))
        .and_then(|n| n.parse().ok())
        .ok_or("its change digests have no count")?;
    let mut out: Vec<ChangeDigest> = Vec::new();
    let mut previous = String::new();
    for (i, line) in lines.enumerate() {
        if line == CHANGES_TAIL {
            break;
        }
        let bad = || format!("its change digest {} is unreadable", i + 1);
        let mut parts = line.splitn(5, ' ');
        let kind = parts
            .next()
            .and_then(ChangeKind::from_code)
            .ok_or_else(bad)?;
        let action = parts
            .next()
            .and_then(|a| ACTION_WORDS.iter().find(|w| **w == a))
            .ok_or_else(bad)?;
        let digest = parts
            .next()
            .filter(|d| d.len() == 32 && d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(bad)?;
        let shared: usize = parts.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
        let rest = parts.next().and_then(decode_address).ok_or_else(bad)?;
        let prefix = previous.get(..shared).ok_or_else(bad)?;
        let address = format!("{prefix}{rest}");
        out.push(ChangeDigest {
            address: address.clone(),
            kind,
            action,
            digest: digest.to_string(),
        });
        previous = address;
    }
    if out.len() != count {
        return Err(format!(
            "its change digests are cut short ({} of {count})",
            out.len()
        ));
    }
    Ok(Some(out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::gha::Secret;
    use crate::plan_comment::marker::*;

    fn digest(address: &str, kind: ChangeKind, action: &'static str, d: char) -> ChangeDigest {
        ChangeDigest {
            address: address.into(),
            kind,
            action,
            digest: d.to_string().repeat(32),
        }
    }

    #[test]
    fn the_change_digests_round_trip_whatever_the_addresses_hold() {
        let mut changes = vec![
            digest(
                "module.svc[\"a\"].aws_ecs_service.this",
                ChangeKind::Resource,
                "update",
                'a',
            ),
            digest(
                "module.svc[\"a\"].aws_iam_role.task",
                ChangeKind::Resource,
                "delete-create",
                'b',
            ),
            digest(
                "module.svc[\"b--> <x>\"].aws_iam_role.task",
                ChangeKind::Resource,
                "create",
                'c',
            ),
            digest(
                "aws_s3_bucket.x[\"é 100%\\n\u{202e}\"]",
                ChangeKind::Deferred,
                "create",
                'd',
            ),
            digest("url", ChangeKind::Output, "update", 'e'),
            digest(
                "action.aws_lambda_invoke.x",
                ChangeKind::Action,
                "invoke",
                'f',
            ),
            digest(
                "t.y (deposed 00abcdef)",
                ChangeKind::Resource,
                "delete",
                '0',
            ),
        ];
        changes.sort();
        let block = changes_block(&changes);
        // Nothing in it ends the HTML comment before its last line.
        assert_eq!(block.matches("--").count(), 2, "{block}");
        assert!(!block[4..].contains('<') && !block.contains("->\n") && block.ends_with("\n-->"));
        let body = stamp(
            &with_changes(
                "<!-- ferry:plan:staging -->\n<!-- ferry:plan-meta hash=h -->\n# Plan\n",
                &block,
            ),
            "sha256:h",
            5,
            None,
            "s",
        );
        assert_eq!(changes_in(&body), Ok(Some(changes.clone())));
        assert!(body.ends_with("-->\n# Plan\n"), "{body}");
        // Written again: one block, replaced.
        let again = with_changes(&body, &changes_block(&changes[..1]));
        assert_eq!(again.matches("ferry:plan-changes").count(), 1);
        // A comment without a block (an older Ferry): none, no error.
        let old =
            "<!-- ferry:plan:staging -->\n<!-- ferry:plan-meta hash=h written=5 -->\n# Plan\n";
        assert_eq!(changes_in(old), Ok(None));
    }

    #[test]
    fn a_missing_cut_or_forged_block_is_refused_saying_so() {
        let key = Secret::new("k");
        let scope = scope("o/r", 7, "<!-- ferry:plan:prod -->");
        let changes = vec![
            digest("a.x", ChangeKind::Resource, "update", '1'),
            digest("a.y", ChangeKind::Resource, "create", '2'),
        ];
        let body = stamp(
            &with_changes(
                "<!-- ferry:plan:prod -->\n<!-- ferry:plan-meta hash=h -->\nplan\n",
                &changes_block(&changes),
            ),
            "hmac-sha256:h",
            1_000,
            Some(&key),
            &scope,
        );
        assert!(untrusted_reason(&body, Some(1_000), Some(&key), &scope).is_ok());
        let line = |b: &str, n: usize| b.lines().nth(n).unwrap().to_string();
        let cases: Vec<(String, &str)> = vec![
            // The block gone, or cut after its first change.
            (
                body.replacen(&format!("{}\n", line(&body, 3)), "", 1),
                "do not match",
            ),
            (
                body.split("-->\nplan")
                    .next()
                    .unwrap()
                    .rsplit_once('\n')
                    .unwrap()
                    .0
                    .to_string(),
                "missing or cut short",
            ),
            (
                body.replacen(&changes_block(&changes), "", 1),
                "missing or cut short",
            ),
            // A digest changed.
            (
                body.replacen(&"2".repeat(32), &"3".repeat(32), 1),
                "do not match",
            ),
        ];
        for (bad, why) in &cases {
            let e = changes_in(bad).unwrap_err();
            assert!(e.contains(why), "{e} for {bad}");
            assert!(untrusted_reason(bad, Some(1_000), Some(&key), &scope).is_err());
        }
        // A block changed with its digest recomputed: the signature fails.
        let forged_block = changes_block(&changes[..1]);
        let forged = restamp(
            &with_changes(&body, &forged_block),
            &Meta {
                changes: Some(block_digest(&forged_block)),
                ..meta_in(&body).unwrap()
            },
        );
        assert!(changes_in(&forged).is_ok());
        let e = untrusted_reason(&forged, Some(1_000), Some(&key), &scope).unwrap_err();
        assert!(e.contains("not signed"), "{e}");
        // Unreadable lines, with a matching digest (no key): refused, no panic.
        for junk in [
            "q update 11111111111111111111111111111111 0 a",
            "r explode 11111111111111111111111111111111 0 a",
            "r update 11 0 a",
            "r update 11111111111111111111111111111111 99 a",
            "r update 11111111111111111111111111111111 0 %zz",
            "r update 11111111111111111111111111111111 0 %E9",
        ] {
            let block = format!("<!-- ferry:plan-changes v1 n=1\n{junk}\n-->");
            let b = stamp(
                &with_changes(
                    "<!-- ferry:plan:prod -->\n<!-- ferry:plan-meta hash=h -->\n",
                    &block,
                ),
                "sha256:h",
                1,
                None,
                "s",
            );
            let e = changes_in(&b).unwrap_err();
            assert!(e.contains("unreadable"), "{e} for {junk}");
        }
        let b = stamp(
            &with_changes(
                "<!-- ferry:plan:prod -->\n<!-- ferry:plan-meta hash=h -->\n",
                "<!-- ferry:plan-changes v1 n=2\n-->",
            ),
            "sha256:h",
            1,
            None,
            "s",
        );
        assert!(changes_in(&b).unwrap_err().contains("0 of 2"));
    }
}
