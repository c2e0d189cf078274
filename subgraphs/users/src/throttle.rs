//! Login throttling that cannot be raced and cannot lock an owner out for long.
//!
//! An attempt is *reserved* before its password is hashed: under one lock, the failures already
//! recorded *and the attempts still being checked* are counted against three rules, so a hundred
//! parallel guesses are a hundred reservations of which only the allowed number succeed. The
//! reservation then becomes a failure, a success, or (if the request was abandoned) nothing.
//!
//! The rules, for a window (default 5 minutes):
//! 1. per account and client address: at most `max_failures` failed logins (default 5);
//! 2. per client address, whatever the account: at most `max_failures_per_address` (default 50),
//!    so one address cannot spray passwords across many accounts;
//! 3. per account, from anywhere: after `backoff_after` failures (default 10) every further
//!    attempt waits a back-off since the last failure, 1 s doubling per failure up to
//!    `max_backoff` (default 60 s), one attempt at a time. This slows an attacker with many
//!    addresses to about one guess a minute, but never hard-locks the account; and an address
//!    that logged in to the account before (within 30 days) is exempt, so its owner is not even
//!    slowed down.
//!
//! "Account" is the email as typed (normalised), whether or not it exists, so a 429 says nothing
//! about whether an account exists. The client address is the connection's peer, or what a
//! trusted proxy forwarded (`TRUSTED_PROXIES`). State is per replica and in memory: with N
//! replicas an attacker gets N times the attempts; a shared store or rate limits at the ingress
//! close that gap.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

/// Entries tracked at once per kind (accounts, addresses, known logins). Every entry costs its
/// creator a password hash, so far fewer can be made within a window; at the bound, new keys are
/// refused rather than old failures forgotten.
const MAX_TRACKED: usize = 100_000;
/// How long a successful login from an address exempts that address from the account back-off.
const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginLimits {
    pub max_failures: u32,
    pub max_failures_per_address: u32,
    pub backoff_after: u32,
    pub max_backoff: Duration,
    pub window: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            max_failures: 5,
            max_failures_per_address: 50,
            backoff_after: 10,
            max_backoff: Duration::from_secs(60),
            window: Duration::from_secs(300),
        }
    }
}

impl LoginLimits {
    /// From `LOGIN_MAX_FAILURES`, `LOGIN_MAX_FAILURES_PER_ADDRESS`, `LOGIN_BACKOFF_AFTER`,
    /// `LOGIN_MAX_BACKOFF_SECS` and `LOGIN_FAILURE_WINDOW_SECS`.
    pub fn from_env() -> anyhow::Result<Self> {
        use kit::config::{parse_or, seconds_or};
        let d = Self::default();
        let limits = Self {
            max_failures: parse_or("LOGIN_MAX_FAILURES", d.max_failures)?,
            max_failures_per_address: parse_or(
                "LOGIN_MAX_FAILURES_PER_ADDRESS",
                d.max_failures_per_address,
            )?,
            backoff_after: parse_or("LOGIN_BACKOFF_AFTER", d.backoff_after)?,
            max_backoff: seconds_or("LOGIN_MAX_BACKOFF_SECS", d.max_backoff)?,
            window: seconds_or("LOGIN_FAILURE_WINDOW_SECS", d.window)?,
        };
        anyhow::ensure!(
            limits.max_failures > 0 && limits.max_failures_per_address > 0,
            "LOGIN_MAX_FAILURES and LOGIN_MAX_FAILURES_PER_ADDRESS must be at least 1"
        );
        Ok(limits)
    }
}

/// Failures within the window and attempts still being checked.
#[derive(Default)]
struct Counter {
    failures: VecDeque<Instant>,
    pending: u32,
}

impl Counter {
    fn forget_before(&mut self, horizon: Option<Instant>) {
        while let (Some(oldest), Some(horizon)) = (self.failures.front(), horizon) {
            if *oldest > horizon {
                break;
            }
            self.failures.pop_front();
        }
    }

    /// `Err(wait)` when `failures + pending` already reach `max`.
    fn admit(&self, max: u32, window: Duration, now: Instant) -> Result<(), Duration> {
        let used = self.failures.len() as u64 + u64::from(self.pending);
        if used < u64::from(max) {
            return Ok(());
        }
        // Pending attempts may yet fail; the soonest relief is the oldest failure ageing out.
        Err(self
            .failures
            .front()
            .map_or(Duration::from_secs(1), |oldest| {
                window.saturating_sub(now.duration_since(*oldest))
            }))
    }

    /// A pending attempt ends; a failed one is recorded.
    fn settle(&mut self, failed: bool, now: Instant) {
        self.pending = self.pending.saturating_sub(1);
        if failed {
            self.failures.push_back(now);
        }
    }

    fn is_idle(&self) -> bool {
        self.pending == 0 && self.failures.is_empty()
    }
}

#[derive(Default)]
struct Account {
    counter: Counter,
    /// Per client address: failures, pending attempts and the last successful login.
    by_address: HashMap<Option<IpAddr>, (Counter, Option<Instant>)>,
}

#[derive(Default)]
struct State {
    accounts: HashMap<String, Account>,
    addresses: HashMap<Option<IpAddr>, Counter>,
}

pub struct LoginThrottle {
    limits: LoginLimits,
    state: Arc<Mutex<State>>,
}

/// A reserved login attempt: report its outcome with [`Attempt::failed`] or
/// [`Attempt::succeeded`]; dropped without either (the request was abandoned), it is released.
pub struct Attempt {
    account: String,
    address: Option<IpAddr>,
    state: Arc<Mutex<State>>,
    settled: bool,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl LoginThrottle {
    pub fn new(limits: LoginLimits) -> Self {
        Self {
            limits,
            state: Arc::default(),
        }
    }

    /// Reserves an attempt for `account` from `address`, or `Err(wait)` when a rule says no.
    pub fn begin(&self, account: &str, address: Option<IpAddr>) -> Result<Attempt, Duration> {
        let l = &self.limits;
        let now = Instant::now();
        let horizon = now.checked_sub(l.window);
        let mut state = lock(&self.state);
        let state = &mut *state;

        let by_address = state.addresses.get_mut(&address);
        if let Some(counter) = by_address {
            counter.forget_before(horizon);
            counter.admit(l.max_failures_per_address, l.window, now)?;
        }
        if let Some(entry) = state.accounts.get_mut(account) {
            entry.counter.forget_before(horizon);
            let known = entry
                .by_address
                .get(&address)
                .and_then(|(_, success)| *success)
                .is_some_and(|at| now.duration_since(at) < KNOWN_FOR);
            if let Some((pair, _)) = entry.by_address.get_mut(&address) {
                pair.forget_before(horizon);
                pair.admit(l.max_failures, l.window, now)?;
            }
            // Reserved attempts count too, so parallel guesses from many addresses cannot all
            // slip in before the back-off starts.
            let failures = entry.counter.failures.len() as u32;
            if !known && failures + entry.counter.pending >= l.backoff_after {
                if entry.counter.pending > 0 {
                    return Err(Duration::from_secs(1));
                }
                let doublings = (failures - l.backoff_after).min(16);
                let backoff = Duration::from_secs(1u64 << doublings).min(l.max_backoff);
                if let Some(last) = entry.counter.failures.back() {
                    let waited = now.duration_since(*last);
                    if waited < backoff {
                        return Err(backoff - waited);
                    }
                }
            }
        }

        // New keys only while there is room: forgetting old failures would hand an attacker a
        // fresh budget.
        if !state.accounts.contains_key(account) && state.accounts.len() >= MAX_TRACKED {
            state.accounts.retain(|_, a| {
                a.counter.forget_before(horizon);
                !a.counter.is_idle() || a.by_address.values().any(|(_, s)| s.is_some())
            });
            if state.accounts.len() >= MAX_TRACKED {
                tracing::warn!(
                    "login throttle is full; refusing new accounts until entries age out"
                );
                return Err(l.window);
            }
        }
        if !state.addresses.contains_key(&address) && state.addresses.len() >= MAX_TRACKED {
            state.addresses.retain(|_, c| {
                c.forget_before(horizon);
                !c.is_idle()
            });
            if state.addresses.len() >= MAX_TRACKED {
                tracing::warn!(
                    "login throttle is full; refusing new addresses until entries age out"
                );
                return Err(l.window);
            }
        }

        state.addresses.entry(address).or_default().pending += 1;
        let entry = state.accounts.entry(account.to_owned()).or_default();
        entry.counter.pending += 1;
        entry.by_address.entry(address).or_default().0.pending += 1;
        Ok(Attempt {
            account: account.to_owned(),
            address,
            state: self.state.clone(),
            settled: false,
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Failed,
    Succeeded,
    Abandoned,
}

impl Attempt {
    /// The password was wrong (or the account unknown): the reservation becomes a failure.
    pub fn failed(mut self) {
        self.settle(Outcome::Failed);
    }

    /// The password was right: the address becomes known to the account and its failures there
    /// are forgiven.
    pub fn succeeded(mut self) {
        self.settle(Outcome::Succeeded);
    }

    fn settle(&mut self, outcome: Outcome) {
        self.settled = true;
        let now = Instant::now();
        let failed = outcome == Outcome::Failed;
        let mut state = lock(&self.state);
        if let Some(counter) = state.addresses.get_mut(&self.address) {
            counter.settle(failed, now);
        }
        if let Some(entry) = state.accounts.get_mut(&self.account) {
            entry.counter.settle(failed, now);
            if let Some((pair, last_success)) = entry.by_address.get_mut(&self.address) {
                pair.settle(failed, now);
                if outcome == Outcome::Succeeded {
                    pair.failures.clear();
                    *last_success = Some(now);
                }
            }
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.settled {
            self.settle(Outcome::Abandoned);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)));
    const B: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2)));

    fn limits() -> LoginLimits {
        LoginLimits {
            max_failures: 3,
            max_failures_per_address: 5,
            backoff_after: 4,
            max_backoff: Duration::from_secs(8),
            window: Duration::from_secs(60),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn parallel_attempts_are_reserved_before_any_is_checked() {
        let throttle = LoginThrottle::new(limits());
        let reserved: Vec<_> = (0..100)
            .filter_map(|_| throttle.begin("a@x.io", A).ok())
            .collect();
        assert_eq!(reserved.len(), 3, "only the limit may be checked at once");
        reserved.into_iter().for_each(Attempt::failed);
        assert_eq!(
            throttle.begin("a@x.io", A).err(),
            Some(Duration::from_secs(60))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_owner_can_still_log_in_from_another_address() {
        let throttle = LoginThrottle::new(limits());
        for _ in 0..3 {
            throttle.begin("a@x.io", A).unwrap().failed();
        }
        assert!(throttle.begin("a@x.io", A).is_err());
        throttle
            .begin("a@x.io", B)
            .expect("another address")
            .succeeded();
    }

    #[tokio::test(start_paused = true)]
    async fn failures_age_out_and_abandoned_attempts_are_released() {
        let throttle = LoginThrottle::new(limits());
        for _ in 0..3 {
            throttle.begin("a@x.io", A).unwrap().failed();
        }
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(
            throttle.begin("a@x.io", A).err(),
            Some(Duration::from_secs(1))
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        let abandoned = throttle.begin("a@x.io", A).unwrap();
        drop(abandoned);
        for _ in 0..3 {
            throttle.begin("a@x.io", A).unwrap().failed();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn one_address_cannot_spray_many_accounts() {
        let throttle = LoginThrottle::new(limits());
        for i in 0..5 {
            throttle
                .begin(&format!("user{i}@x.io"), A)
                .unwrap()
                .failed();
        }
        assert!(throttle.begin("fresh@x.io", A).is_err());
        assert!(throttle.begin("fresh@x.io", B).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn many_addresses_meet_a_growing_back_off_but_never_a_lock() {
        let throttle = LoginThrottle::new(limits());
        throttle
            .begin("a@x.io", Some("192.0.2.200".parse().unwrap()))
            .unwrap()
            .succeeded();
        for i in 0..4u8 {
            let attacker = Some(IpAddr::from([192, 0, 2, i]));
            throttle.begin("a@x.io", attacker).unwrap().failed();
        }
        // From now on each attempt waits 1 s, 2 s, 4 s, then 8 s (the cap) after the last failure.
        let attacker = Some(IpAddr::from([192, 0, 2, 100]));
        for expected in [1, 2, 4, 8, 8] {
            assert_eq!(
                throttle.begin("a@x.io", attacker).err(),
                Some(Duration::from_secs(expected))
            );
            tokio::time::advance(Duration::from_secs(expected)).await;
            throttle
                .begin(
                    "a@x.io",
                    Some(IpAddr::from([192, 0, 2, 50 + expected as u8])),
                )
                .unwrap()
                .failed();
        }
        // The owner's address, known from an earlier login, is not slowed down.
        throttle
            .begin("a@x.io", Some("192.0.2.200".parse().unwrap()))
            .expect("known address")
            .succeeded();
    }
}
