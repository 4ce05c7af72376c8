//! Token buckets (global, per client IP, per project) and the 429 headers Sentry SDKs obey.
//!
//! A limit of N per second refills N tokens a second, continuously, into a bucket that holds
//! at most N × the burst multiplier; each request takes one token. A request is admitted only
//! when every bucket that applies to it has a token, and only then are tokens taken, so a
//! request refused by one limit does not use up another. The clock is a parameter, so tests
//! drive time by hand.
//!
//! The per-project bucket is keyed by the project's id whatever the route, and only requests
//! the database accepted take from it: the proxy cannot tell a good key from a bad one, and
//! a flood of wrong keys must not lock a project's real senders out. On `/api/store/` the
//! project comes from a key → project table learned from accepted requests.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many IPs or projects each table tracks at most; beyond this, new ones go unlimited by
/// that table (still limited by the others) until pruning makes room.
const MAX_TRACKED: usize = 100_000;
/// How often full buckets (indistinguishable from new ones) are forgotten.
const PRUNE_EVERY: Duration = Duration::from_secs(10);
/// How often a full table may be pruned early, so a flood of new keys cannot make every
/// request scan the table.
const PRUNE_WHEN_FULL_AT_MOST_EVERY: Duration = Duration::from_secs(1);
/// Public keys are at most 64 characters; longer ones are cut so memory stays bounded.
const MAX_KEY_LEN: usize = 64;

/// The configured limits, in requests per second; 0 turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// All requests together.
    pub global_per_second: f64,
    /// Requests from one client address.
    pub per_ip_per_second: f64,
    /// Accepted requests for one project.
    pub per_project_per_second: f64,
    /// Bucket capacity as a multiple of the per-second rate.
    pub burst_multiplier: f64,
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The global limit.
    Global,
    /// The per-client-IP limit.
    Ip,
    /// The per-project limit.
    Project,
}

impl Scope {
    /// The scope word of `X-Sentry-Rate-Limits`. Sentry knows `organization`, `project` and
    /// `key`: the global limit is the whole installation (`organization`); per project and
    /// per IP, the client is asked to hold back only its own traffic (`key`).
    pub fn sentry_scope(self) -> &'static str {
        match self {
            Scope::Global => "organization",
            Scope::Ip | Scope::Project => "key",
        }
    }

    /// A few words for the error detail.
    pub fn describe(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Ip => "per-client-IP",
            Scope::Project => "per-project",
        }
    }
}

/// A refusal: which limit, and how many whole seconds until a token is back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    /// The limit that refused.
    pub scope: Scope,
    /// Seconds to wait, at least 1.
    pub retry_after_secs: u64,
}

impl RateLimited {
    /// The `Retry-After` header value.
    pub fn retry_after_header(&self) -> String {
        self.retry_after_secs.to_string()
    }

    /// The `X-Sentry-Rate-Limits` header value, `<seconds>:<categories>:<scope>`, with no
    /// categories (all data).
    pub fn sentry_rate_limits_header(&self) -> String {
        format!("{}::{}", self.retry_after_secs, self.scope.sentry_scope())
    }
}

#[derive(Debug, Clone, Copy)]
struct Rate {
    per_second: f64,
    capacity: f64,
}

impl Rate {
    fn new(per_second: f64, burst_multiplier: f64) -> Option<Self> {
        (per_second > 0.0).then(|| Rate {
            per_second,
            capacity: (per_second * burst_multiplier).max(1.0),
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    fn full(rate: Rate, now: Instant) -> Self {
        Bucket {
            tokens: rate.capacity,
            updated: now,
        }
    }

    fn refill(&mut self, rate: Rate, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_second).min(rate.capacity);
        self.updated = self.updated.max(now);
    }

    /// Seconds until one token is available, 0 if one is.
    fn wait(&self, rate: Rate) -> f64 {
        if self.tokens >= 1.0 {
            0.0
        } else {
            (1.0 - self.tokens) / rate.per_second
        }
    }

    /// Takes one token after the fact: the bucket may go into debt (at most a full bucket),
    /// which requests that were admitted together pay back by waiting.
    fn charge(&mut self, rate: Rate) {
        self.tokens = (self.tokens - 1.0).max(-rate.capacity);
    }

    fn is_full_at(&self, rate: Rate, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens + elapsed * rate.per_second >= rate.capacity
    }
}

/// Buckets by IP or by project, bounded in size.
#[derive(Debug)]
struct Table<K> {
    buckets: HashMap<K, Bucket>,
    last_prune: Instant,
}

impl<K: Hash + Eq> Table<K> {
    fn new(now: Instant) -> Self {
        Table {
            buckets: HashMap::new(),
            last_prune: now,
        }
    }

    fn prune(&mut self, rate: Rate, now: Instant) {
        self.buckets
            .retain(|_, bucket| !bucket.is_full_at(rate, now));
        self.last_prune = now;
    }

    /// The refilled bucket of `key`, created full if new; `None` if the table is full.
    fn bucket<Q>(&mut self, key: &Q, rate: Rate, now: Instant) -> Option<&mut Bucket>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let since_prune = now.saturating_duration_since(self.last_prune);
        if since_prune >= PRUNE_EVERY {
            self.prune(rate, now);
        }
        if !self.buckets.contains_key(key) {
            if self.buckets.len() >= MAX_TRACKED && since_prune >= PRUNE_WHEN_FULL_AT_MOST_EVERY {
                self.prune(rate, now);
            }
            if self.buckets.len() >= MAX_TRACKED {
                return None;
            }
            self.buckets.insert(key.to_owned(), Bucket::full(rate, now));
        }
        let bucket = self.buckets.get_mut(key)?;
        bucket.refill(rate, now);
        Some(bucket)
    }
}

#[derive(Debug)]
struct State {
    global: Bucket,
    ips: Table<IpAddr>,
    projects: Table<i32>,
    /// Which project a public key was accepted for, for routes without a project id.
    key_projects: HashMap<String, i32>,
}

/// The proxy's rate limiter; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct RateLimiter {
    global: Option<Rate>,
    per_ip: Option<Rate>,
    per_project: Option<Rate>,
    state: Mutex<State>,
}

impl RateLimiter {
    /// A limiter with every bucket full at `now`.
    pub fn new(limits: Limits, now: Instant) -> Self {
        let multiplier = limits.burst_multiplier;
        let global = Rate::new(limits.global_per_second, multiplier);
        RateLimiter {
            global,
            per_ip: Rate::new(limits.per_ip_per_second, multiplier),
            per_project: Rate::new(limits.per_project_per_second, multiplier),
            state: Mutex::new(State {
                global: Bucket {
                    tokens: global.map_or(0.0, |rate| rate.capacity),
                    updated: now,
                },
                ips: Table::new(now),
                projects: Table::new(now),
                key_projects: HashMap::new(),
            }),
        }
    }

    /// Whether every limit is off.
    pub fn is_off(&self) -> bool {
        self.global.is_none() && self.per_ip.is_none() && self.per_project.is_none()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means another request panicked mid-update; buckets stay usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Admits one request at `now` (taking a token from the global and the IP bucket) or says
    /// which limit refuses it. `project` is the project the request names or was last
    /// accepted for: its bucket must have a token, which `accepted` takes. An unknown IP or
    /// project applies no limit of its own.
    pub fn check(
        &self,
        now: Instant,
        ip: Option<IpAddr>,
        project: Option<i32>,
    ) -> Result<(), RateLimited> {
        if self.is_off() {
            return Ok(());
        }
        let mut guard = self.lock();
        let state = &mut *guard;

        let mut applicable: Vec<(Scope, Rate, &mut Bucket)> = Vec::with_capacity(3);
        if let Some(rate) = self.global {
            state.global.refill(rate, now);
            applicable.push((Scope::Global, rate, &mut state.global));
        }
        if let (Some(rate), Some(ip)) = (self.per_ip, ip) {
            if let Some(bucket) = state.ips.bucket(&ip, rate, now) {
                applicable.push((Scope::Ip, rate, bucket));
            }
        }
        let mut project_bucket = None;
        if let (Some(rate), Some(id)) = (self.per_project, project) {
            project_bucket = state.projects.bucket(&id, rate, now).map(|b| (rate, b));
        }

        let refusal = applicable
            .iter()
            .map(|(scope, rate, bucket)| (*scope, bucket.wait(*rate)))
            .chain(
                project_bucket
                    .iter()
                    .map(|(rate, bucket)| (Scope::Project, bucket.wait(*rate))),
            )
            .filter(|(_, wait)| *wait > 0.0)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((scope, wait)) = refusal {
            return Err(RateLimited {
                scope,
                retry_after_secs: (wait.ceil() as u64).max(1),
            });
        }
        for (_, _, bucket) in applicable {
            bucket.tokens -= 1.0;
        }
        Ok(())
    }

    /// The project `public_key` was last accepted for, if any.
    pub fn project_of_key(&self, public_key: &str) -> Option<i32> {
        self.per_project?;
        let state = self.lock();
        state
            .key_projects
            .get(truncate(public_key, MAX_KEY_LEN))
            .copied()
    }

    /// Counts a request the database accepted against its project's limit, and remembers
    /// which project its key belongs to.
    pub fn accepted(&self, now: Instant, public_key: Option<&str>, project_id: i32) {
        let Some(rate) = self.per_project else {
            return;
        };
        let mut state = self.lock();
        if let Some(bucket) = state.projects.bucket(&project_id, rate, now) {
            bucket.charge(rate);
        }
        if let Some(key) = public_key.map(|key| truncate(key, MAX_KEY_LEN)) {
            if state.key_projects.get(key) != Some(&project_id) {
                if state.key_projects.len() >= MAX_TRACKED {
                    state.key_projects.clear();
                }
                state.key_projects.insert(key.to_owned(), project_id);
            }
        }
    }
}

/// `text` cut to at most `max` bytes at a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::{Limits, RateLimited, RateLimiter, Scope, MAX_TRACKED};
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::{Duration, Instant};

    fn limits(global: f64, per_ip: f64, per_project: f64, burst: f64) -> Limits {
        Limits {
            global_per_second: global,
            per_ip_per_second: per_ip,
            per_project_per_second: per_project,
            burst_multiplier: burst,
        }
    }

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)))
    }

    #[test]
    fn off_admits_everything() {
        let t0 = Instant::now();
        let limiter = RateLimiter::new(limits(0.0, 0.0, 0.0, 2.0), t0);
        assert!(limiter.is_off());
        for _ in 0..10_000 {
            assert_eq!(limiter.check(t0, ip(1), Some(1)), Ok(()));
        }
    }

    #[test]
    fn per_second_means_per_second_with_burst() {
        let t0 = Instant::now();
        let limiter = RateLimiter::new(limits(10.0, 0.0, 0.0, 2.0), t0);
        // A burst of 10 × 2.
        for _ in 0..20 {
            assert_eq!(limiter.check(t0, None, None), Ok(()));
        }
        let refused = limiter.check(t0, None, None).unwrap_err();
        assert_eq!(refused.scope, Scope::Global);
        assert_eq!(refused.retry_after_secs, 1);
        // 100 ms later exactly one token is back (10 per second, continuously).
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(limiter.check(t1, None, None), Ok(()));
        assert!(limiter.check(t1, None, None).is_err());
        // One second later, ten.
        let t2 = t1 + Duration::from_secs(1);
        for _ in 0..10 {
            assert_eq!(limiter.check(t2, None, None), Ok(()));
        }
        assert!(limiter.check(t2, None, None).is_err());
    }

    #[test]
    fn slow_rates_give_longer_retry_after() {
        let t0 = Instant::now();
        let limiter = RateLimiter::new(limits(0.0, 0.2, 0.0, 1.0), t0);
        assert_eq!(limiter.check(t0, ip(1), None), Ok(()));
        let refused = limiter.check(t0, ip(1), None).unwrap_err();
        assert_eq!(
            refused,
            RateLimited {
                scope: Scope::Ip,
                retry_after_secs: 5
            }
        );
        assert_eq!(refused.sentry_rate_limits_header(), "5::key");
        assert_eq!(refused.retry_after_header(), "5");
    }

    #[test]
    fn ips_and_projects_have_their_own_buckets() {
        let t0 = Instant::now();
        let limiter = RateLimiter::new(limits(0.0, 1.0, 1.0, 1.0), t0);
        assert_eq!(limiter.check(t0, ip(1), Some(1)), Ok(()));
        limiter.accepted(t0, Some("k"), 1);
        assert_eq!(
            limiter.check(t0, ip(1), Some(2)).unwrap_err().scope,
            Scope::Ip
        );
        assert_eq!(
            limiter.check(t0, ip(2), Some(1)).unwrap_err().scope,
            Scope::Project
        );
        assert_eq!(limiter.check(t0, ip(2), Some(2)), Ok(()));
        // Nothing to key on: only the global limit (off) applies.
        assert_eq!(limiter.check(t0, None, None), Ok(()));
    }

    #[test]
    fn only_accepted_requests_use_up_a_project() {
        let t0 = Instant::now();
        let limiter = RateLimiter::new(limits(0.0, 0.0, 1.0, 2.0), t0);
        // Refused by the database (a wrong key): admitted again and again.
        for _ in 0..10 {
            assert_eq!(limiter.check(t0, None, Some(1)), Ok(()));
        }
        limiter.accepted(t0, Some("good"), 1);
        limiter.accepted(t0, Some("good"), 1);
        assert_eq!(
            limiter.check(t0, None, Some(1)).unwrap_err().scope,
            Scope::Project
        );
        // The key now leads to the same bucket on routes without a project id.
        assert_eq!(limiter.project_of_key("good"), Some(1));
        assert_eq!(limiter.project_of_key("other"), None);
        // Requests admitted together go into debt, paid back by waiting.
        limiter.accepted(t0, Some("good"), 1);
        let refused = limiter.check(t0, None, Some(1)).unwrap_err();
        assert_eq!(refused.retry_after_secs, 2);
    }

    #[test]
    fn a_refusal_takes_no_token_from_other_buckets() {
        let t0 = Instant::now();
        let limiter = RateLimiter::new(limits(2.0, 1.0, 0.0, 1.0), t0);
        assert_eq!(limiter.check(t0, ip(1), None), Ok(()));
        // Refused per IP: the global bucket keeps its second token for someone else.
        assert_eq!(limiter.check(t0, ip(1), None).unwrap_err().scope, Scope::Ip);
        assert_eq!(limiter.check(t0, ip(2), None), Ok(()));
        assert_eq!(
            limiter.check(t0, ip(3), None).unwrap_err().scope,
            Scope::Global
        );
        assert_eq!(Scope::Global.sentry_scope(), "organization");
    }

    #[test]
    fn full_buckets_are_forgotten() {
        let t0 = Instant::now();
        let limiter = RateLimiter::new(limits(0.0, 100.0, 0.0, 1.0), t0);
        for last in 0..=255 {
            assert_eq!(limiter.check(t0, ip(last), None), Ok(()));
        }
        assert_eq!(limiter.state.lock().unwrap().ips.buckets.len(), 256);
        // Ten seconds on every bucket is full again and the next check prunes them.
        let later = t0 + Duration::from_secs(11);
        assert_eq!(limiter.check(later, ip(7), None), Ok(()));
        assert_eq!(limiter.state.lock().unwrap().ips.buckets.len(), 1);
    }

    #[test]
    fn tables_are_bounded() {
        let t0 = Instant::now();
        let limiter = RateLimiter::new(limits(0.0, 0.0, 1.0, 1.0), t0);
        for id in 0..(MAX_TRACKED as i32 + 10) {
            limiter.accepted(t0, Some(&format!("key{id}")), id);
        }
        let state = limiter.state.lock().unwrap();
        assert_eq!(state.projects.buckets.len(), MAX_TRACKED);
        assert!(state.key_projects.len() <= MAX_TRACKED);
        drop(state);
        // Tracked ones are still limited.
        assert!(limiter.check(t0, None, Some(0)).is_err());
    }

    #[test]
    fn long_keys_are_cut() {
        let t0 = Instant::now();
        let limiter = RateLimiter::new(limits(0.0, 0.0, 1.0, 1.0), t0);
        let long = "k".repeat(1000);
        limiter.accepted(t0, Some(&long), 3);
        assert_eq!(limiter.project_of_key(&long[..70]), Some(3));
        assert_eq!(super::truncate("aé", 2), "a");
    }

    #[test]
    fn clock_going_backwards_is_harmless() {
        let t0 = Instant::now() + Duration::from_secs(5);
        let limiter = RateLimiter::new(limits(1.0, 0.0, 0.0, 1.0), t0);
        assert_eq!(limiter.check(t0, None, None), Ok(()));
        assert!(limiter
            .check(t0 - Duration::from_secs(3), None, None)
            .is_err());
    }
}
