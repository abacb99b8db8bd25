//! When to reconnect: [`Cause`], [`ReconnectPolicy`] and its default, [`Backoff`].

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error::{Error, ErrorKind};
use crate::frame::{CloseCode, CloseReason};

/// Why a connection ended or could not be made.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Cause {
    /// A live session ended with this reason (1006 lost, 1011 ping timeout, the peer's code…).
    Closed(CloseReason),
    /// A connection attempt failed.
    ConnectFailed {
        /// The error's kind.
        kind: ErrorKind,
        /// The HTTP status, for a refused upgrade.
        status: Option<u16>,
        /// The error's text.
        message: String,
    },
}

impl Cause {
    /// The default classification: reconnect after 1006 (lost), 1011 (ping timeout, internal
    /// error), 1012 (restart), 1013 (try again later), and after connect failures that can be
    /// transient (refused, timeout, I/O, a 5xx upgrade response) — never after a normal
    /// close (1000) by either side, nor after bad configuration or a 4xx refusal.
    pub fn is_transient(&self) -> bool {
        match self {
            Cause::Closed(reason) => matches!(
                reason.code,
                CloseCode::ABNORMAL
                    | CloseCode::INTERNAL_ERROR
                    | CloseCode::SERVICE_RESTART
                    | CloseCode::TRY_AGAIN_LATER
            ),
            Cause::ConnectFailed { kind, status, .. } => match kind {
                ErrorKind::Connect | ErrorKind::Timeout | ErrorKind::Io => true,
                ErrorKind::Handshake => status.is_none_or(|s| s >= 500),
                _ => false,
            },
        }
    }

    pub(super) fn from_error(error: &Error) -> Self {
        Cause::ConnectFailed {
            kind: error.kind(),
            status: error.status(),
            // the whole chain: the cause (refused, reset...) is only in `source()`
            message: format!("{error:#}"),
        }
    }

    pub(super) fn into_reason(self) -> CloseReason {
        match self {
            Cause::Closed(reason) => reason,
            Cause::ConnectFailed { message, .. } => CloseReason::new(CloseCode::ABNORMAL, message),
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Closed(reason) => write!(f, "closed: {reason}"),
            Cause::ConnectFailed { message, .. } => write!(f, "connect failed: {message}"),
        }
    }
}

/// Decides how long to wait before each reconnect attempt, and whether to reconnect at all.
pub trait ReconnectPolicy: Send + Sync + 'static {
    /// The delay before retry `attempt` (1 for the first retry after a connection ended or
    /// the first connection failed), or `None` to give up. `elapsed` is the time since the
    /// connection was last live (or since the start).
    fn next_delay(&self, attempt: u32, elapsed: Duration) -> Option<Duration>;

    /// Whether `cause` warrants a reconnect. Default: [`Cause::is_transient`].
    fn should_reconnect(&self, cause: &Cause) -> bool {
        cause.is_transient()
    }
}

/// Exponential backoff with full jitter: retry *n* waits a uniformly random time in
/// `[0, min(max, initial × multiplier^(n-1))]`, in whole milliseconds (tokio's timer
/// resolution).
#[derive(Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    multiplier: f64,
    jitter: bool,
    max_attempts: Option<u32>,
    max_elapsed: Option<Duration>,
    rng: AtomicU64,
}

impl Clone for Backoff {
    fn clone(&self) -> Self {
        Backoff {
            rng: AtomicU64::new(self.rng.load(Ordering::Relaxed)),
            ..*self
        }
    }
}

impl Backoff {
    /// Exponential backoff from `initial` up to `max`, doubling, with full jitter, retrying
    /// forever.
    pub fn exponential(initial: Duration, max: Duration) -> Self {
        let seed = {
            use std::hash::{BuildHasher, Hasher};
            static COUNTER: AtomicU64 = AtomicU64::new(0);
            // a per-process random key (std's hasher seed) and a counter: every policy gets
            // its own jitter, so sessions that lost the same server do not retry in lockstep
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
            hasher.finish()
        };
        Backoff {
            initial,
            max,
            multiplier: 2.0,
            jitter: true,
            max_attempts: None,
            max_elapsed: None,
            rng: AtomicU64::new(seed | 1),
        }
    }

    /// Gives up after `attempts` retries in a row without a live connection.
    ///
    /// Default: unlimited.
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// Gives up once this much time has passed since the last successful connection.
    ///
    /// Default: unlimited.
    #[must_use]
    pub fn max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = Some(elapsed);
        self
    }

    /// The growth factor per attempt.
    ///
    /// Default: 2.0.
    #[must_use]
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = multiplier.max(1.0);
        self
    }

    /// Turns jitter off: attempt *n* waits exactly the capped exponential delay.
    ///
    /// Default: full jitter.
    #[must_use]
    pub fn without_jitter(mut self) -> Self {
        self.jitter = false;
        self
    }

    /// Seeds the jitter's random numbers, for reproducible delays.
    ///
    /// Default: seeded from the clock and the process.
    #[must_use]
    pub fn seed(self, seed: u64) -> Self {
        self.rng.store(seed | 1, Ordering::Relaxed);
        self
    }

    /// The capped exponential delay for `attempt`, before jitter.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let exp = self
            .multiplier
            .powi(attempt.saturating_sub(1).min(64) as i32);
        let nanos = (self.initial.as_nanos() as f64 * exp).min(self.max.as_nanos() as f64);
        Duration::from_nanos(nanos as u64)
    }

    fn random(&self) -> f64 {
        // xorshift64*: plenty for jitter
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.store(x, Ordering::Relaxed);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl ReconnectPolicy for Backoff {
    fn next_delay(&self, attempt: u32, elapsed: Duration) -> Option<Duration> {
        if self.max_attempts.is_some_and(|max| attempt > max) {
            return None;
        }
        if self.max_elapsed.is_some_and(|max| elapsed >= max) {
            return None;
        }
        let ceiling = self.ceiling(attempt);
        let delay = if self.jitter {
            ceiling.mul_f64(self.random())
        } else {
            ceiling
        };
        // whole milliseconds: tokio's timers cannot wait for less
        Some(Duration::from_millis(delay.as_millis() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_stays_under_the_capped_exponential() {
        let policy =
            Backoff::exponential(Duration::from_millis(100), Duration::from_secs(2)).seed(42);
        for attempt in 1..20 {
            let delay = policy.next_delay(attempt, Duration::ZERO).unwrap();
            let ceiling =
                Duration::from_millis(100 * 2u64.pow(attempt - 1)).min(Duration::from_secs(2));
            assert!(
                delay <= ceiling,
                "attempt {attempt}: {delay:?} > {ceiling:?}"
            );
        }
        let a: Vec<_> = (1..6)
            .map(|n| policy.clone().seed(9).next_delay(n, Duration::ZERO))
            .collect();
        let b: Vec<_> = (1..6)
            .map(|n| policy.clone().seed(9).next_delay(n, Duration::ZERO))
            .collect();
        assert_eq!(a, b, "same seed, same delays");
        let distinct: std::collections::HashSet<_> = (0..50)
            .map(|_| policy.next_delay(5, Duration::ZERO))
            .collect();
        assert!(distinct.len() > 40, "jitter varies");
    }

    #[test]
    fn limits_give_up() {
        let policy = Backoff::exponential(Duration::from_millis(10), Duration::from_secs(1))
            .without_jitter()
            .max_attempts(3)
            .max_elapsed(Duration::from_secs(60));
        assert_eq!(
            policy.next_delay(1, Duration::ZERO),
            Some(Duration::from_millis(10))
        );
        assert_eq!(
            policy.next_delay(3, Duration::ZERO),
            Some(Duration::from_millis(40))
        );
        assert_eq!(policy.next_delay(4, Duration::ZERO), None);
        assert_eq!(policy.next_delay(2, Duration::from_secs(60)), None);
    }

    #[test]
    fn default_classification() {
        let closed = |code: u16| Cause::Closed(CloseReason::new(code, ""));
        assert!(closed(1006).is_transient());
        assert!(closed(1011).is_transient());
        assert!(closed(1012).is_transient());
        assert!(closed(1013).is_transient());
        assert!(!closed(1000).is_transient());
        assert!(!closed(1001).is_transient());
        assert!(!closed(4000).is_transient());
        let failed = |kind, status| Cause::ConnectFailed {
            kind,
            status,
            message: String::new(),
        };
        assert!(failed(ErrorKind::Connect, None).is_transient());
        assert!(failed(ErrorKind::Timeout, None).is_transient());
        assert!(failed(ErrorKind::Handshake, Some(503)).is_transient());
        assert!(!failed(ErrorKind::Handshake, Some(403)).is_transient());
        assert!(!failed(ErrorKind::Config, None).is_transient());
    }
}
