//! Session affinity: a customer's requests stay on one site while traffic is split.
//!
//! The primary and the standby keep separate session stores, so a customer whose clicks
//! alternate between them is logged out at random. With `[affinity]`, the tier of a request is
//! not drawn at random but from its **key** (a session cookie, a header such as a tenant id, or
//! the client address; requests without the key fall back to the client address):
//!
//! - **Consistent placement.** The key hashes to a fixed position in [0, 1); the tier shares
//!   cut [0, 1) into bands in tier order, and the key is served by the tier whose band holds
//!   its position. While the shares stand still, each key lives on exactly one tier; when the
//!   primary's share moves from 70 % to 60 %, only the keys in [0.6, 0.7) change tier, every
//!   other key stays (the idea of consistent hashing, Karger et al. 1997, on a line instead of
//!   a ring because tiers are ordered; Envoy's ring-hash balancer picks priorities the same
//!   way). The hash is FNV-1a with a SplitMix64 finaliser: fixed, so every replica of a fleet
//!   places a key the same way.
//! - **Hold.** A key served by a higher tier stays there for `hold` after its last request
//!   ([`Holds`]), so it does not bounce back when the primary's share recovers a little. The
//!   table is bounded ([`HOLD_CAPACITY`] keys); past it the key unused the longest is
//!   forgotten first. A flood of new keys can only push out held keys (which then follow the
//!   plain consistent placement, the same for most of them), never grow memory. Only keys on a
//!   higher tier are held, so in normal operation the table is empty and costs nothing.

use crate::config::AffinityKey;
use crate::lock::lock;
use pingora::http::RequestHeader;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

/// Keys held on a higher tier at most.
pub const HOLD_CAPACITY: usize = 100_000;

/// The request's affinity key, hashed; `None` when it has neither the key nor an address.
pub fn key_of(req: &RequestHeader, key: &AffinityKey, client: Option<IpAddr>) -> Option<u64> {
    let found = match key {
        AffinityKey::Cookie(name) => cookie(req, name),
        AffinityKey::Header(name) => req
            .headers
            .get(name.as_str())
            .map(|v| v.as_bytes())
            .filter(|v| !v.is_empty()),
        AffinityKey::Addr => None,
    };
    match (found, client) {
        (Some(v), _) => Some(hash(b"k", v)),
        (None, Some(IpAddr::V4(ip))) => Some(hash(b"a", &ip.octets())),
        (None, Some(IpAddr::V6(ip))) => Some(hash(b"a", &ip.octets())),
        (None, None) => None,
    }
}

/// The value of cookie `name` in the request's `Cookie` lines (RFC 6265 §5.4: `a=1; b=2`).
fn cookie<'a>(req: &'a RequestHeader, name: &str) -> Option<&'a [u8]> {
    req.headers
        .get_all(http::header::COOKIE)
        .iter()
        .find_map(|line| {
            line.as_bytes().split(|&b| b == b';').find_map(|pair| {
                let pair = pair.trim_ascii();
                let eq = pair.iter().position(|&b| b == b'=')?;
                (&pair[..eq] == name.as_bytes())
                    .then(|| &pair[eq + 1..])
                    .filter(|v| !v.is_empty())
            })
        })
}

/// FNV-1a over a domain tag and the bytes, then SplitMix64's finaliser for well-spread bits.
fn hash(tag: &[u8], bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in tag.iter().chain(bytes) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// A key's positions in [0, 1): the first places it among tiers, the second among the pools
/// of its tier (independent of the first).
pub fn positions(key: u64) -> (f64, f64) {
    let unit = |x: u64| (x >> 11) as f64 / (1u64 << 53) as f64;
    (unit(key), unit(hash(b"p", &key.to_le_bytes())))
}

/// Keys served by a higher tier, with when they were last served there.
#[derive(Debug)]
pub struct Holds {
    capacity: usize,
    len: AtomicUsize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// key -> (tier, last use)
    held: HashMap<u64, (u32, u64)>,
    /// (key, last use) in order of use; stale records are skipped when evicting.
    order: VecDeque<(u64, u64)>,
}

impl Default for Holds {
    fn default() -> Self {
        Holds::with_capacity(HOLD_CAPACITY)
    }
}

impl Holds {
    pub fn with_capacity(capacity: usize) -> Self {
        Holds {
            capacity: capacity.max(1),
            len: AtomicUsize::new(0),
            inner: Mutex::default(),
        }
    }

    /// The tier `key` is held on, if it was served there within `hold_ns`.
    pub fn get(&self, key: u64, now_ns: u64, hold_ns: u64) -> Option<u32> {
        if self.len.load(Relaxed) == 0 {
            return None; // normal operation: nothing held, no lock
        }
        let inner = lock(&self.inner);
        let &(tier, last) = inner.held.get(&key)?;
        (now_ns.saturating_sub(last) < hold_ns).then_some(tier)
    }

    /// Records that `key` was served by `tier` (a higher tier) now.
    pub fn hold(&self, key: u64, tier: u32, now_ns: u64) {
        let mut inner = lock(&self.inner);
        inner.held.insert(key, (tier, now_ns));
        inner.order.push_back((key, now_ns));
        while inner.held.len() > self.capacity {
            let Some((k, at)) = inner.order.pop_front() else {
                break;
            };
            if inner.held.get(&k).is_some_and(|&(_, last)| last == at) {
                inner.held.remove(&k);
            }
        }
        // Re-used keys leave stale records behind: compact when they dominate.
        if inner.order.len() > 2 * self.capacity.max(inner.held.len()) {
            let Inner { held, order } = &mut *inner;
            order.retain(|(k, at)| held.get(k).is_some_and(|&(_, last)| last == *at));
        }
        self.len.store(inner.held.len(), Relaxed);
    }

    /// Forgets `key` (it is served by the primary again).
    pub fn release(&self, key: u64) {
        if self.len.load(Relaxed) == 0 {
            return;
        }
        let mut inner = lock(&self.inner);
        inner.held.remove(&key);
        self.len.store(inner.held.len(), Relaxed);
    }

    pub fn len(&self) -> usize {
        self.len.load(Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
#[path = "affinity_tests.rs"]
mod tests;
