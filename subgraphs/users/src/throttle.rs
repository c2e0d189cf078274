//! Login and registration throttling that cannot be raced and does not let an attacker lock an
//! owner out of their account.
//!
//! A login attempt is *reserved* before its password is hashed: under one lock, the failures
//! already recorded *and the attempts still being checked* are counted against three rules, so a
//! hundred parallel guesses are a hundred reservations of which only the allowed number succeed.
//! The reservation then becomes a failure, a success, or (if the request was abandoned) nothing.
//!
//! The rules, for a window (default 5 minutes):
//! 1. per account and client address: at most `max_failures` failed logins (default 5);
//! 2. per client address, whatever the account: at most `max_failures_per_address` (default 50),
//!    so one address cannot spray passwords across many accounts;
//! 3. per account, from anywhere: after `backoff_after` failures (default 10) every further
//!    attempt waits a back-off since the last failure, 1 s doubling per failure up to
//!    `max_backoff` (default 60 s), one attempt at a time. This slows an attacker with many
//!    addresses to about one guess a minute.
//!
//! An address the account logged in from before (within 30 days, remembered in the database by
//! the caller) is *known*: rules 2 and 3 do not apply to it, so an attacker elsewhere, or sharing
//! the owner's proxy, can neither slow the owner down nor lock them out; only rule 1, which
//! counts that address's own failures, does.
//!
//! "Account" is the email as typed (normalised), whether or not it exists, so a 429 says nothing
//! about whether an account exists. Addresses are the client's (a trusted proxy's
//! `X-Forwarded-For`), IPv6 ones grouped by /64, the block one host is usually given. State is
//! per replica and in memory, and holds only recent failures and attempts in progress: its size
//! is bounded by how many hashes the replica can run in a window.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

/// Entries tracked at once per kind (accounts, addresses). Every entry is a recent failure or
/// an attempt in progress, each of which costs a password hash, so far fewer can exist within a
/// window; at the bound, new keys are refused rather than old failures forgotten.
const MAX_TRACKED: usize = 100_000;

/// How long a successful login from an address makes that address known to the account.
pub const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginLimits {
    pub max_failures: u32,
    pub max_failures_per_address: u32,
    pub backoff_after: u32,
    pub max_backoff: Duration,
    pub window: Duration,
    /// Registrations one address may start per `registration_window`.
    pub max_registrations: u32,
    pub registration_window: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            max_failures: 5,
            max_failures_per_address: 50,
            backoff_after: 10,
            max_backoff: Duration::from_secs(60),
            window: Duration::from_secs(300),
            max_registrations: 10,
            registration_window: Duration::from_secs(3600),
        }
    }
}

/// The key a client address is throttled and remembered under: IPv4 addresses as they are,
/// IPv6 ones by their /64 (one host usually holds a whole /64, so per-address rules would
/// otherwise not bind it). `None`: no address known (in-process calls).
pub fn address_key(ip: Option<IpAddr>) -> Option<IpAddr> {
    ip.map(web::http::address_group)
}

/// Events within the window and attempts still in progress.
#[derive(Default)]
struct Counter {
    events: VecDeque<Instant>,
    pending: u32,
}

impl Counter {
    fn forget_before(&mut self, horizon: Option<Instant>) {
        while let (Some(oldest), Some(horizon)) = (self.events.front(), horizon) {
            if *oldest > horizon {
                break;
            }
            self.events.pop_front();
        }
    }

    /// `Err(wait)` when `events + pending` already reach `max`.
    fn admit(&self, max: u32, window: Duration, now: Instant) -> Result<(), Duration> {
        let used = self.events.len() as u64 + u64::from(self.pending);
        if used < u64::from(max) {
            return Ok(());
        }
        // Pending attempts may yet fail; the soonest relief is the oldest event ageing out.
        Err(self
            .events
            .front()
            .map_or(Duration::from_secs(1), |oldest| {
                window.saturating_sub(now.duration_since(*oldest))
            }))
    }

    /// A pending attempt ends; a failed one is recorded.
    fn settle(&mut self, failed: bool, now: Instant) {
        self.pending = self.pending.saturating_sub(1);
        if failed {
            self.events.push_back(now);
        }
    }

    fn is_idle(&self) -> bool {
        self.pending == 0 && self.events.is_empty()
    }
}

#[derive(Default)]
struct Account {
    counter: Counter,
    by_address: HashMap<Option<IpAddr>, Counter>,
}

#[derive(Default)]
struct State {
    accounts: HashMap<String, Account>,
    addresses: HashMap<Option<IpAddr>, Counter>,
    registrations: HashMap<Option<IpAddr>, Counter>,
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

/// Whether a map may take one more key; expired entries are dropped first when it is full.
fn has_room<K, V>(map: &mut HashMap<K, V>, key: &K, idle: impl FnMut(&mut V) -> bool) -> bool
where
    K: std::hash::Hash + Eq,
{
    if map.contains_key(key) || map.len() < MAX_TRACKED {
        return true;
    }
    let mut idle = idle;
    map.retain(|_, v| !idle(v));
    if map.len() < MAX_TRACKED {
        return true;
    }
    tracing::warn!("login throttle is full; refusing new keys until entries age out");
    false
}

impl LoginThrottle {
    pub fn new(limits: LoginLimits) -> Self {
        Self {
            limits,
            state: Arc::default(),
        }
    }

    /// Reserves an attempt for `account` from `address` (an [`address_key`]), or `Err(wait)`
    /// when a rule says no. `known`: the account logged in from this address before.
    pub fn begin(
        &self,
        account: &str,
        address: Option<IpAddr>,
        known: bool,
    ) -> Result<Attempt, Duration> {
        let l = &self.limits;
        let now = Instant::now();
        let horizon = now.checked_sub(l.window);
        let mut state = lock(&self.state);
        let state = &mut *state;

        if !known && let Some(counter) = state.addresses.get_mut(&address) {
            counter.forget_before(horizon);
            counter.admit(l.max_failures_per_address, l.window, now)?;
        }
        if let Some(entry) = state.accounts.get_mut(account) {
            entry.counter.forget_before(horizon);
            if let Some(pair) = entry.by_address.get_mut(&address) {
                pair.forget_before(horizon);
                pair.admit(l.max_failures, l.window, now)?;
            }
            // Reserved attempts count too, so parallel guesses from many addresses cannot all
            // slip in before the back-off starts.
            let failures = entry.counter.events.len() as u32;
            if !known && failures + entry.counter.pending >= l.backoff_after {
                if entry.counter.pending > 0 {
                    return Err(Duration::from_secs(1));
                }
                let doublings = (failures - l.backoff_after).min(16);
                let backoff = Duration::from_secs(1u64 << doublings).min(l.max_backoff);
                if let Some(last) = entry.counter.events.back() {
                    let waited = now.duration_since(*last);
                    if waited < backoff {
                        return Err(backoff - waited);
                    }
                }
            }
        }

        // New keys only while there is room: forgetting old failures would hand an attacker a
        // fresh budget.
        let account_key = account.to_owned();
        let room = has_room(&mut state.accounts, &account_key, |a| {
            a.counter.forget_before(horizon);
            a.by_address.retain(|_, c| {
                c.forget_before(horizon);
                !c.is_idle()
            });
            a.counter.is_idle() && a.by_address.is_empty()
        }) && has_room(&mut state.addresses, &address, |c| {
            c.forget_before(horizon);
            c.is_idle()
        });
        if !room {
            return Err(l.window);
        }

        state.addresses.entry(address).or_default().pending += 1;
        let entry = state.accounts.entry(account_key).or_default();
        entry.counter.pending += 1;
        entry.by_address.entry(address).or_default().pending += 1;
        Ok(Attempt {
            account: account.to_owned(),
            address,
            state: self.state.clone(),
            settled: false,
        })
    }

    /// Reserves a registration from `address` (an [`address_key`]), or `Err(wait)` when the
    /// address started too many within the registration window (reserved ones included). The
    /// reservation counts once [`RegistrationSlot::used`]; dropped unused (the hashing queue was
    /// full), it is released.
    pub fn register(&self, address: Option<IpAddr>) -> Result<RegistrationSlot, Duration> {
        let l = &self.limits;
        let now = Instant::now();
        let horizon = now.checked_sub(l.registration_window);
        let mut state = lock(&self.state);
        if let Some(counter) = state.registrations.get_mut(&address) {
            counter.forget_before(horizon);
            counter.admit(l.max_registrations, l.registration_window, now)?;
        }
        if !has_room(&mut state.registrations, &address, |c| {
            c.forget_before(horizon);
            c.is_idle()
        }) {
            return Err(l.registration_window);
        }
        state.registrations.entry(address).or_default().pending += 1;
        Ok(RegistrationSlot {
            address,
            state: self.state.clone(),
            used: false,
        })
    }
}

/// A reserved registration; see [`LoginThrottle::register`].
pub struct RegistrationSlot {
    address: Option<IpAddr>,
    state: Arc<Mutex<State>>,
    used: bool,
}

impl RegistrationSlot {
    /// The registration was checked (created, or refused for a taken email): it counts.
    pub fn used(mut self) {
        self.used = true;
    }
}

impl Drop for RegistrationSlot {
    fn drop(&mut self) {
        let mut state = lock(&self.state);
        if let Some(counter) = state.registrations.get_mut(&self.address) {
            counter.settle(self.used, Instant::now());
            if counter.is_idle() {
                state.registrations.remove(&self.address);
            }
        }
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

    /// The password was right: the address's failures on this account are forgiven (the caller
    /// remembers the address as known).
    pub fn succeeded(mut self) {
        self.settle(Outcome::Succeeded);
    }

    /// Ends the reservation and drops whatever is left with nothing to remember.
    fn settle(&mut self, outcome: Outcome) {
        self.settled = true;
        let now = Instant::now();
        let failed = outcome == Outcome::Failed;
        let mut state = lock(&self.state);
        if let Some(counter) = state.addresses.get_mut(&self.address) {
            counter.settle(failed, now);
            if counter.is_idle() {
                state.addresses.remove(&self.address);
            }
        }
        if let Some(entry) = state.accounts.get_mut(&self.account) {
            entry.counter.settle(failed, now);
            if let Some(pair) = entry.by_address.get_mut(&self.address) {
                pair.settle(failed, now);
                if outcome == Outcome::Succeeded {
                    pair.events.clear();
                }
                if pair.is_idle() {
                    entry.by_address.remove(&self.address);
                }
            }
            if entry.counter.is_idle() && entry.by_address.is_empty() {
                state.accounts.remove(&self.account);
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
            max_registrations: 2,
            registration_window: Duration::from_secs(600),
        }
    }

    fn tracked(throttle: &LoginThrottle) -> (usize, usize) {
        let state = lock(&throttle.state);
        (state.accounts.len(), state.addresses.len())
    }

    #[tokio::test(start_paused = true)]
    async fn parallel_attempts_are_reserved_before_any_is_checked() {
        let throttle = LoginThrottle::new(limits());
        let reserved: Vec<_> = (0..100)
            .filter_map(|_| throttle.begin("a@x.io", A, false).ok())
            .collect();
        assert_eq!(reserved.len(), 3, "only the limit may be checked at once");
        reserved.into_iter().for_each(Attempt::failed);
        assert_eq!(
            throttle.begin("a@x.io", A, false).err(),
            Some(Duration::from_secs(60))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_owner_can_still_log_in_from_another_address() {
        let throttle = LoginThrottle::new(limits());
        for _ in 0..3 {
            throttle.begin("a@x.io", A, false).unwrap().failed();
        }
        assert!(throttle.begin("a@x.io", A, false).is_err());
        throttle
            .begin("a@x.io", B, false)
            .expect("another address")
            .succeeded();
    }

    #[tokio::test(start_paused = true)]
    async fn failures_age_out_and_abandoned_attempts_leave_nothing_behind() {
        let throttle = LoginThrottle::new(limits());
        for _ in 0..3 {
            throttle.begin("a@x.io", A, false).unwrap().failed();
        }
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(
            throttle.begin("a@x.io", A, false).err(),
            Some(Duration::from_secs(1))
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        // Thousands of abandoned attempts (clients that hang up before the hash) cost no memory.
        for i in 0..5_000 {
            drop(throttle.begin(&format!("ghost{i}@x.io"), B, false).unwrap());
        }
        assert_eq!(
            tracked(&throttle),
            (1, 1),
            "only a@x.io's old failures remain"
        );
        // Its failures aged out, and the success forgave the rest: nothing is left.
        throttle.begin("a@x.io", A, false).unwrap().succeeded();
        assert_eq!(tracked(&throttle), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn one_address_cannot_spray_many_accounts() {
        let throttle = LoginThrottle::new(limits());
        for i in 0..5 {
            throttle
                .begin(&format!("user{i}@x.io"), A, false)
                .unwrap()
                .failed();
        }
        assert!(throttle.begin("fresh@x.io", A, false).is_err());
        assert!(throttle.begin("fresh@x.io", B, false).is_ok());
        // An account that logged in from that address before is not held back by the others'
        // failures (the owner behind the same proxy as an attacker).
        throttle
            .begin("owner@x.io", A, true)
            .expect("known address")
            .succeeded();
    }

    #[tokio::test(start_paused = true)]
    async fn many_addresses_meet_a_growing_back_off_the_owner_does_not() {
        let throttle = LoginThrottle::new(limits());
        for i in 0..4u8 {
            let attacker = Some(IpAddr::from([192, 0, 2, i]));
            throttle.begin("a@x.io", attacker, false).unwrap().failed();
        }
        // From now on each attempt waits 1 s, 2 s, 4 s, then 8 s (the cap) after the last failure.
        let attacker = Some(IpAddr::from([192, 0, 2, 100]));
        for expected in [1, 2, 4, 8, 8] {
            assert_eq!(
                throttle.begin("a@x.io", attacker, false).err(),
                Some(Duration::from_secs(expected))
            );
            tokio::time::advance(Duration::from_secs(expected)).await;
            let next = Some(IpAddr::from([192, 0, 2, 50 + expected as u8]));
            throttle.begin("a@x.io", next, false).unwrap().failed();
        }
        // The owner, from an address the account logged in from before, is not slowed down.
        throttle
            .begin("a@x.io", Some("192.0.2.200".parse().unwrap()), true)
            .expect("known address")
            .succeeded();
    }

    #[test]
    fn ipv6_addresses_are_grouped_by_their_64() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let other: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let elsewhere: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(Some(one)), address_key(Some(other)));
        assert_ne!(address_key(Some(one)), address_key(Some(elsewhere)));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(
            address_key(Some(mapped)),
            Some("192.0.2.7".parse().unwrap())
        );
    }

    #[tokio::test(start_paused = true)]
    async fn registrations_are_limited_per_address() {
        let throttle = LoginThrottle::new(limits());
        throttle.register(A).unwrap().used();
        // Turned away before hashing (the queue was full): released, not counted.
        drop(throttle.register(A).unwrap());
        let pending = throttle.register(A).unwrap();
        assert!(
            throttle.register(A).is_err(),
            "reserved ones count while they run"
        );
        pending.used();
        assert_eq!(throttle.register(A).err(), Some(Duration::from_secs(600)));
        throttle
            .register(B)
            .expect("other addresses are not affected")
            .used();
        tokio::time::advance(Duration::from_secs(600)).await;
        throttle.register(A).expect("aged out").used();
    }
}
