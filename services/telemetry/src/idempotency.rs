//! The idempotency key: one chokepoint that decides what a valid key is, shared
//! by the API (the `Idempotency-Key` header) and the worker (the
//! `idempotency_key` message attribute), so that both accept exactly the same
//! keys, and a key that reaches a log line or an SQS `MessageDeduplicationId` is
//! always short and plain.

use std::fmt;

/// The HTTP header a client sets so that retrying a request is safe.
pub const HEADER: &str = "idempotency-key";

/// The SQS message attribute that carries the key from the API to the worker.
pub const ATTRIBUTE: &str = "idempotency_key";

/// Longest key, in bytes: SQS's limit for a `MessageDeduplicationId`.
pub const MAX_LEN: usize = 128;

/// Why a key was refused; the message says what a valid key looks like and never
/// repeats the key itself (it is outside input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The key is empty.
    Empty,
    /// The key is longer than [`MAX_LEN`] bytes.
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The key holds a character outside `A-Z a-z 0-9 - _ . :`.
    BadCharacter {
        /// Byte offset of the first offending character.
        at: usize,
    },
    /// The header was sent more than once.
    Repeated,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const WHAT: &str = "1 to 128 characters among A-Z a-z 0-9 - _ . : (a UUID is a good key)";
        match self {
            Self::Empty => write!(f, "the idempotency key is empty; use {WHAT}"),
            Self::TooLong { len } => write!(
                f,
                "the idempotency key is {len} bytes long, more than {MAX_LEN}; use {WHAT}"
            ),
            Self::BadCharacter { at } => write!(
                f,
                "the idempotency key has a character not allowed at byte {at}; use {WHAT}"
            ),
            Self::Repeated => write!(
                f,
                "the Idempotency-Key header is sent more than once; send it once"
            ),
        }
    }
}

impl std::error::Error for KeyError {}

/// Whether `b` may appear in a key: a charset that is safe in a log line, an SQS
/// deduplication id and a URL, and that needs no escaping anywhere.
fn allowed(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':')
}

/// Checks a key as received (header value bytes or attribute string) and returns
/// it as a `&str` when valid. Length is checked first, so an oversized key is
/// refused without scanning it.
pub fn validate(raw: &[u8]) -> Result<&str, KeyError> {
    if raw.is_empty() {
        return Err(KeyError::Empty);
    }
    if raw.len() > MAX_LEN {
        return Err(KeyError::TooLong { len: raw.len() });
    }
    if let Some(at) = raw.iter().position(|b| !allowed(*b)) {
        return Err(KeyError::BadCharacter { at });
    }
    // Every byte is ASCII, so this cannot fail; map the impossible error anyway.
    std::str::from_utf8(raw).map_err(|e| KeyError::BadCharacter {
        at: e.valid_up_to(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_common_key_shapes() {
        for key in [
            "6f1c2a9e-3b7d-4c1e-9f0a-2d5b8c7e1a34",
            "01HZY3K8Q9V7X2M4N6P8R0T2W4",
            "order-1234:attempt.1",
            "a",
            &"k".repeat(MAX_LEN),
        ] {
            assert_eq!(validate(key.as_bytes()), Ok(key), "{key}");
        }
    }

    #[test]
    fn refuses_hostile_shapes_with_a_reason() {
        let long = "k".repeat(MAX_LEN + 1);
        let huge = "k".repeat(1 << 20);
        let cases: [(&[u8], KeyError); 14] = [
            (b"", KeyError::Empty),
            (long.as_bytes(), KeyError::TooLong { len: MAX_LEN + 1 }),
            (huge.as_bytes(), KeyError::TooLong { len: 1 << 20 }),
            (b"a b", KeyError::BadCharacter { at: 1 }),
            (b" lead", KeyError::BadCharacter { at: 0 }),
            (b"a\nb", KeyError::BadCharacter { at: 1 }),
            (
                b"a\r\n::set-output name=x::y",
                KeyError::BadCharacter { at: 1 },
            ),
            (b"a\0b", KeyError::BadCharacter { at: 1 }),
            (b"a\x1b[31mred", KeyError::BadCharacter { at: 1 }),
            ("cl\u{e9}".as_bytes(), KeyError::BadCharacter { at: 2 }),
            (b"\xff\xfe", KeyError::BadCharacter { at: 0 }),
            (b"a\"b", KeyError::BadCharacter { at: 1 }),
            (b"../../etc/passwd", KeyError::BadCharacter { at: 2 }),
            (b"$(reboot)", KeyError::BadCharacter { at: 0 }),
        ];
        for (raw, want) in cases {
            let got = validate(raw).unwrap_err();
            assert_eq!(got, want, "{raw:?}");
            let message = got.to_string();
            assert!(message.contains("A-Z a-z 0-9"), "{message}");
        }
    }

    #[test]
    fn messages_never_repeat_the_key() {
        let e = validate(b"secret value with spaces").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
    }

    proptest! {
        /// Any bytes: never a panic; a valid key is exactly the input, short and
        /// plain; a refused one says why without echoing it.
        #[test]
        fn any_input_is_classified(raw in proptest::collection::vec(any::<u8>(), 0..300)) {
            match validate(&raw) {
                Ok(k) => {
                    prop_assert_eq!(k.as_bytes(), raw.as_slice());
                    prop_assert!(!k.is_empty() && k.len() <= MAX_LEN);
                    prop_assert!(k.bytes().all(allowed));
                }
                Err(e) => {
                    let m = e.to_string();
                    prop_assert!(m.len() < 200);
                    prop_assert!(!m.chars().any(char::is_control));
                }
            }
        }

        /// Keys of the allowed charset and length are always accepted.
        #[test]
        fn every_well_formed_key_is_accepted(k in "[A-Za-z0-9_.:-]{1,128}") {
            prop_assert_eq!(validate(k.as_bytes()), Ok(k.as_str()));
        }
    }
}
