//! What a failed `SendMessage` means for the client: was the task certainly not
//! queued, or may it have been? A timeout is the dangerous case: SQS may have
//! stored the message and only the answer was late, so a client that reads 503
//! as "not queued" and retries duplicates the task.
//!
//! The decisions are pure functions over [`Failure`], a plain description of
//! one attempt; [`Failure::from_sdk`] is the thin adapter from the SDK's error.

use std::error::Error as StdError;

use aws_sdk_sqs::error::SdkError;

/// One failed attempt to send a message, as far as delivery is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// SQS answered with an error status: `status` 4xx means it refused the
    /// message (not stored); 5xx means it failed and may or may not have stored it.
    Answered {
        /// HTTP status of SQS's answer.
        status: u16,
        /// SQS error code, e.g. `RequestThrottled`.
        code: Option<String>,
    },
    /// The TCP connection was refused: the request never left.
    ConnectionRefused,
    /// Any other I/O failure (reset, broken pipe, ...): the request may have been
    /// received.
    Io,
    /// No answer within the deadline: the request may have been received.
    Timeout,
    /// An answer that could not be read: SQS may have stored the message.
    BadResponse,
    /// The request could not even be built: nothing was sent.
    NotBuilt,
}

/// What a client is told after the API gave up on SQS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// No attempt could have stored the task: a retry cannot duplicate it.
    NotQueued,
    /// At least one attempt may have stored the task.
    Unknown,
}

impl Delivery {
    /// The value of the `delivery` field of the 503 body.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotQueued => "not_queued",
            Self::Unknown => "unknown",
        }
    }
}

/// SQS error codes that mean "slow down": the message was refused, try again.
const THROTTLING: [&str; 3] = ["RequestThrottled", "ThrottlingException", "Throttling"];

impl Failure {
    /// Whether SQS certainly did not store the message.
    pub fn not_sent(&self) -> bool {
        match self {
            Self::Answered { status, .. } => (400..500).contains(status),
            Self::ConnectionRefused | Self::NotBuilt => true,
            Self::Io | Self::Timeout | Self::BadResponse => false,
        }
    }

    /// Whether another attempt may succeed soon (within the same request).
    pub fn transient(&self) -> bool {
        match self {
            Self::Answered { status, code } => {
                *status >= 500
                    || *status == 429
                    || code.as_deref().is_some_and(|c| THROTTLING.contains(&c))
            }
            Self::ConnectionRefused | Self::Io => true,
            // A timeout has used the whole deadline; a bad response or a request
            // that cannot be built will not get better.
            Self::Timeout | Self::BadResponse | Self::NotBuilt => false,
        }
    }

    /// Describes an SDK error. Only a refused connection counts as "not sent"
    /// among transport errors: anything else may have reached SQS.
    pub fn from_sdk<E, R>(err: &SdkError<E, R>) -> Self
    where
        E: aws_sdk_sqs::error::ProvideErrorMetadata,
        R: HasStatus,
    {
        match err {
            SdkError::ConstructionFailure(_) => Self::NotBuilt,
            SdkError::TimeoutError(_) => Self::Timeout,
            SdkError::ResponseError(_) => Self::BadResponse,
            SdkError::DispatchFailure(d) => {
                let refused = d.as_connector_error().is_some_and(|c| {
                    io_kind_in_chain(c) == Some(std::io::ErrorKind::ConnectionRefused)
                });
                if refused {
                    Self::ConnectionRefused
                } else if d.is_timeout() {
                    Self::Timeout
                } else {
                    Self::Io
                }
            }
            SdkError::ServiceError(ctx) => Self::Answered {
                status: ctx.raw().status_code(),
                code: ctx.err().code().map(str::to_owned),
            },
            // `SdkError` is non-exhaustive: assume the worst.
            _ => Self::BadResponse,
        }
    }
}

/// The HTTP status of a raw response, so [`Failure::from_sdk`] stays generic.
pub trait HasStatus {
    /// The status code.
    fn status_code(&self) -> u16;
}

impl HasStatus for aws_sdk_sqs::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// The kind of the first `std::io::Error` in an error's source chain.
fn io_kind_in_chain(err: &(dyn StdError + 'static)) -> Option<std::io::ErrorKind> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    // A bounded walk: source chains are short, and a cyclic one must not hang us.
    for _ in 0..32 {
        let e = cur?;
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        cur = e.source();
    }
    None
}

/// Most attempts one request makes.
pub const MAX_ATTEMPTS: usize = 2;

/// Whether to make another attempt after `failures` (the last one last). A
/// failure that certainly stored nothing is retried when transient; one that may
/// have stored the task only when the request carries an idempotency key, since
/// then the worker drops the duplicate.
pub fn should_retry(failures: &[Failure], has_key: bool) -> bool {
    let Some(last) = failures.last() else {
        return false;
    };
    failures.len() < MAX_ATTEMPTS && last.transient() && (last.not_sent() || has_key)
}

/// What the client is told after all `failures`: not queued only if no attempt
/// could have stored the task.
pub fn outcome(failures: &[Failure]) -> Delivery {
    if failures.iter().all(Failure::not_sent) {
        Delivery::NotQueued
    } else {
        Delivery::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: u16, code: &str) -> Failure {
        Failure::Answered {
            status,
            code: Some(code.to_owned()),
        }
    }

    #[test]
    fn only_certain_refusals_are_not_queued() {
        use Failure::*;
        for f in [
            answered(400, "AWS.SimpleQueueService.NonExistentQueue"),
            answered(403, "AccessDenied"),
            answered(400, "RequestThrottled"),
            ConnectionRefused,
            NotBuilt,
        ] {
            assert_eq!(
                outcome(std::slice::from_ref(&f)),
                Delivery::NotQueued,
                "{f:?}"
            );
        }
        for f in [
            answered(500, "InternalError"),
            answered(503, "ServiceUnavailable"),
            Io,
            Timeout,
            BadResponse,
        ] {
            assert_eq!(
                outcome(std::slice::from_ref(&f)),
                Delivery::Unknown,
                "{f:?}"
            );
        }
        // One uncertain attempt makes the whole request uncertain, whatever came after.
        assert_eq!(outcome(&[Timeout, ConnectionRefused]), Delivery::Unknown);
        assert_eq!(
            outcome(&[Io, answered(400, "RequestThrottled")]),
            Delivery::Unknown
        );
        assert_eq!(
            outcome(&[ConnectionRefused, ConnectionRefused]),
            Delivery::NotQueued
        );
    }

    #[test]
    fn retries_never_risk_a_duplicate_without_a_key() {
        use Failure::*;
        // Certainly not stored and transient: retried, key or not.
        for has_key in [false, true] {
            assert!(should_retry(&[ConnectionRefused], has_key));
            assert!(should_retry(&[answered(400, "RequestThrottled")], has_key));
        }
        // Maybe stored: retried only with a key.
        for f in [Io, answered(500, "InternalError")] {
            assert!(!should_retry(std::slice::from_ref(&f), false), "{f:?}");
            assert!(should_retry(std::slice::from_ref(&f), true), "{f:?}");
        }
        // Never: a timeout (deadline used), permanent refusals, the attempt cap.
        for has_key in [false, true] {
            assert!(!should_retry(&[Timeout], has_key));
            assert!(!should_retry(&[answered(403, "AccessDenied")], has_key));
            assert!(!should_retry(&[NotBuilt], has_key));
            assert!(!should_retry(&[BadResponse], has_key));
            assert!(!should_retry(
                &[ConnectionRefused, ConnectionRefused],
                has_key
            ));
            assert!(!should_retry(&[], has_key));
        }
    }

    #[test]
    fn finds_a_refused_connection_deep_in_the_chain() {
        #[derive(Debug)]
        struct Wrap(Box<dyn StdError + 'static>);
        impl std::fmt::Display for Wrap {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("wrapped")
            }
        }
        impl StdError for Wrap {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(self.0.as_ref())
            }
        }
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let deep = Wrap(Box::new(Wrap(Box::new(refused))));
        assert_eq!(
            io_kind_in_chain(&deep),
            Some(std::io::ErrorKind::ConnectionRefused)
        );
        let reset = Wrap(Box::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        )));
        assert_eq!(
            io_kind_in_chain(&reset),
            Some(std::io::ErrorKind::ConnectionReset)
        );
        let mut chain: Box<dyn StdError + 'static> = Box::new(std::fmt::Error);
        for _ in 0..100 {
            chain = Box::new(Wrap(chain));
        }
        assert_eq!(
            io_kind_in_chain(chain.as_ref()),
            None,
            "a long chain is cut, not walked forever"
        );
    }
}
