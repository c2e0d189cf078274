//! Login throttling: after too many failed logins for one email within a window, further
//! attempts answer 429 until the oldest failure ages out, without checking the password. Keyed by
//! the email as typed (normalised), whether or not the account exists, so the answer reveals
//! nothing; kept in memory per replica.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Emails tracked at once before old entries are dropped, bounding memory under a spray attack.
const MAX_TRACKED: usize = 100_000;

/// How many failed logins per email a window allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginLimits {
    pub max_failures: u32,
    pub window: Duration,
}

impl Default for LoginLimits {
    /// Five failures per email in five minutes.
    fn default() -> Self {
        Self {
            max_failures: 5,
            window: Duration::from_secs(300),
        }
    }
}

impl LoginLimits {
    /// From `LOGIN_MAX_FAILURES` and `LOGIN_FAILURE_WINDOW_SECS`.
    pub fn from_env() -> anyhow::Result<Self> {
        let defaults = Self::default();
        Ok(Self {
            max_failures: kit::config::parse_or("LOGIN_MAX_FAILURES", defaults.max_failures)?,
            window: kit::config::seconds_or("LOGIN_FAILURE_WINDOW_SECS", defaults.window)?,
        })
    }
}

pub struct LoginThrottle {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginThrottle {
    pub fn new(limits: LoginLimits) -> Self {
        Self {
            max_failures: limits.max_failures.max(1) as usize,
            window: limits.window,
            failures: Mutex::default(),
        }
    }

    /// `Err(wait)` while `key` is locked out.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(recent) = failures.get_mut(key) else {
            return Ok(());
        };
        while recent
            .front()
            .is_some_and(|at| now.duration_since(*at) >= self.window)
        {
            recent.pop_front();
        }
        match recent.front() {
            Some(oldest) if recent.len() >= self.max_failures => {
                Err(self.window - now.duration_since(*oldest))
            }
            _ => Ok(()),
        }
    }

    pub fn record_failure(&self, key: &str) {
        let now = Instant::now();
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if failures.len() >= MAX_TRACKED && !failures.contains_key(key) {
            let window = self.window;
            failures.retain(|_, at| {
                at.back()
                    .is_some_and(|last| now.duration_since(*last) < window)
            });
            if failures.len() >= MAX_TRACKED {
                failures.clear();
            }
        }
        let recent = failures.entry(key.to_owned()).or_default();
        recent.push_back(now);
        while recent.len() > self.max_failures {
            recent.pop_front();
        }
    }

    pub fn record_success(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn locks_after_the_limit_and_unlocks_when_failures_age_out() {
        let throttle = LoginThrottle::new(LoginLimits {
            max_failures: 3,
            window: Duration::from_secs(60),
        });
        for _ in 0..3 {
            assert!(throttle.check("a@example.com").is_ok());
            throttle.record_failure("a@example.com");
        }
        let wait = throttle.check("a@example.com").unwrap_err();
        assert_eq!(wait, Duration::from_secs(60));
        assert!(
            throttle.check("b@example.com").is_ok(),
            "other emails are unaffected"
        );

        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(
            throttle.check("a@example.com").unwrap_err(),
            Duration::from_secs(1)
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(throttle.check("a@example.com").is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_clears_the_failures() {
        let throttle = LoginThrottle::new(LoginLimits {
            max_failures: 2,
            window: Duration::from_secs(60),
        });
        throttle.record_failure("a@example.com");
        throttle.record_success("a@example.com");
        throttle.record_failure("a@example.com");
        assert!(throttle.check("a@example.com").is_ok());
    }
}
