//! Placement: which tier and which pool serve a request. This is the one place that decides
//! it; the proxy phases ask, nothing else chooses a pool.
//!
//! The tier plan ([`crate::tier`]) says how much of all traffic each tier can take; placement
//! turns that into decisions for one request, at four points of the request path:
//!
//! 1. **Draw** ([`Placement::draw`]), right after routing: a tier by the plan's shares, then a
//!    pool within it by its capacity. With affinity ([`Placement::draw_keyed`]) the tier is
//!    the one whose share band holds the request's key, or the higher tier the key is held on
//!    ([`crate::affinity`]); such a request then stays on its tier for spill and retries
//!    unless that tier cannot serve at all.
//! 2. **Spill** ([`Placement::spill`]), when the drawn pool's admission gate is full: the pools
//!    that may take the request at once instead of making it wait or be shed. Every other pool
//!    the plan lets serve is asked, lower tiers first: a weak standby that is full sends the
//!    request back to a primary with room (a primary that lost half its backends idles while
//!    the standby sheds otherwise), then higher tiers take what the drawn one cannot carry
//!    (Envoy's priority spill, decided per request at the moment of overload). During a drill
//!    every lower pool is asked, eligible or not: a drill never sheds a customer.
//! 3. **Settle** ([`Placement::settle`]): the pool that admitted the request must be allowed for
//!    its route. A route with `on_standby = "refuse"` is served by the primary tier only.
//! 4. **Attempts** ([`Placement::attempts`]): the order of pools for an upstream attempt, and on a
//!    retry: the current pool first, then every other candidate by ascending tier. A
//!    `failover_only` pool is a candidate only while no lower tier has an available backend
//!    (judged live, not from the plan: an attempt has just failed and the plan may not have
//!    caught up), and a route switched off on the standby never leaves the primary tier.
//!    When nothing is left, [`Placement::exhausted`] says why.
//!
//! Every decision takes the clock reading (`now_ns`) and the random source from its caller, so
//! the rules are unit-tested with a seeded RNG and a hand-driven clock
//! (`placement_tests.rs`).

use crate::admission::gate::Gate;
use crate::affinity::{positions, Holds};
use crate::config::{OnStandby, RouteConf, Spill};
use crate::pool::Backend;
use crate::reload::Snapshot;
use crate::respond::Reason;
use crate::tier::TierPlan;
use std::sync::Arc;

/// Placement for requests of one snapshot, under the tier plan current when it was made.
pub struct Placement<'a> {
    snap: &'a Snapshot,
    plan: arc_swap::Guard<Arc<TierPlan>>,
    /// The request has an affinity key: it leaves its tier only when that tier cannot serve.
    keyed: bool,
}

/// A request's affinity key and where keys are held ([`crate::affinity`]).
#[derive(Clone, Copy)]
pub struct Keyed<'h> {
    pub key: u64,
    pub holds: &'h Holds,
    pub hold_ns: u64,
}

/// What placement concluded once a request was admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// The request is served by the primary tier.
    pub on_primary: bool,
    /// A drill drew the standby, which could not admit the request: it went to a lower tier
    /// (a failure for the drill's SLO).
    pub drill_fallback: bool,
}

impl<'a> Placement<'a> {
    pub fn new(snap: &'a Snapshot) -> Self {
        Placement {
            snap,
            plan: snap.tiers(),
            keyed: false,
        }
    }

    /// Placement for a request with an affinity key: spill, retries and the drill move it to
    /// another tier only when its own tier cannot serve it at all.
    pub fn keyed(mut self, keyed: bool) -> Self {
        self.keyed = keyed;
        self
    }

    /// The tier plan this placement decides by.
    pub fn plan(&self) -> &TierPlan {
        &self.plan
    }

    fn tier(&self, pool: usize) -> u32 {
        self.snap.pools[pool].tier()
    }

    fn off_primary(&self, pool: usize) -> bool {
        Some(self.tier(pool)) != self.plan.primary()
    }

    /// The first pool for a routed request, or why none can serve it.
    pub fn draw(&self, rng: &mut fastrand::Rng) -> Result<usize, Reason> {
        self.plan.draw(rng).ok_or(Reason::NoTierCanServe)
    }

    /// The first pool for a request with an affinity key: the tier whose band holds the key's
    /// position, unless the key is held on a higher tier that can still serve it. A key placed
    /// on a tier above the primary is (re)held there.
    pub fn draw_keyed(&self, k: Keyed, now_ns: u64) -> Result<usize, Reason> {
        let (u, v) = positions(k.key);
        let drawn = self.plan.draw_at(u, v).ok_or(Reason::NoTierCanServe)?;
        let tier = self.tier(drawn);
        let held = k.holds.get(k.key, now_ns, k.hold_ns).filter(|&t| t > tier);
        if let Some(pool) = held.and_then(|t| self.plan.pool_in(t, v)) {
            k.holds.hold(k.key, self.tier(pool), now_ns);
            return Ok(pool);
        }
        if Some(tier) != self.plan.primary() {
            k.holds.hold(k.key, tier, now_ns);
        }
        Ok(drawn)
    }

    /// Pools that may admit the request at once when `drawn` is full, in the order to ask them.
    /// `drill`: a drill is running.
    pub fn spill(&self, drawn: usize, drill: bool) -> Vec<(usize, Arc<Gate>)> {
        let tier = self.tier(drawn);
        if self.keyed {
            // A keyed request is shed on its own tier rather than moved off it.
            return (0..self.snap.pools.len())
                .filter(|&i| i != drawn && self.tier(i) == tier && self.plan.eligible(i))
                .map(|i| (i, self.snap.pools[i].gate.clone()))
                .collect();
        }
        let below = |i: usize| self.tier(i) < tier && (drill || self.plan.eligible(i));
        let above = |i: usize| {
            let p = &self.snap.pools[i];
            p.tier() > tier && p.conf.spill == Spill::Gradual && self.plan.eligible(i)
        };
        let mut order: Vec<usize> = (0..self.snap.pools.len())
            .filter(|&i| below(i) || above(i))
            .collect();
        order.sort_by_key(|&i| (self.tier(i) > tier, self.tier(i)));
        order
            .into_iter()
            .map(|i| (i, self.snap.pools[i].gate.clone()))
            .collect()
    }

    /// Checks the pool that admitted the request against its route, and reports what the
    /// proxy accounts for it.
    pub fn settle(
        &self,
        route: &RouteConf,
        drawn: usize,
        admitted: usize,
        drill: bool,
    ) -> Result<Settled, Reason> {
        if route.on_standby == OnStandby::Refuse && self.off_primary(admitted) {
            return Err(Reason::OffOnStandby);
        }
        Ok(Settled {
            on_primary: !self.off_primary(admitted),
            drill_fallback: drill && self.tier(admitted) < self.tier(drawn),
        })
    }

    /// Pools to try for an attempt, in order: `current` first, then (built only when asked
    /// for) the other candidates by ascending tier.
    pub fn attempts(
        &'a self,
        current: usize,
        route: &'a RouteConf,
        now_ns: u64,
    ) -> impl Iterator<Item = usize> + 'a {
        let primary_only = route.on_standby == OnStandby::Refuse;
        let rest = std::iter::once(()).flat_map(move |()| {
            self.candidates(current, now_ns)
                .into_iter()
                .filter(move |&i| i != current && !(primary_only && self.off_primary(i)))
        });
        std::iter::once(current).chain(rest)
    }

    /// Some candidate pool still has an available backend this request has not tried.
    pub fn has_alternative(&self, current: usize, tried: &[Arc<Backend>], now_ns: u64) -> bool {
        self.candidates(current, now_ns).into_iter().any(|i| {
            self.snap.pools[i]
                .backends
                .iter()
                .any(|b| b.is_available(now_ns) && !tried.iter().any(|t| Arc::ptr_eq(t, b)))
        })
    }

    /// Why no attempt is left: the route is off while a standby tier could have served it
    /// (also on a first attempt drawn from a plan the primary's failure has not reached yet),
    /// else no tier can serve. `attempts` counts this request's attempts so far.
    pub fn exhausted(
        &self,
        current: usize,
        route: &RouteConf,
        attempts: u32,
        now_ns: u64,
    ) -> Reason {
        let standby_could_serve = || {
            self.candidates(current, now_ns)
                .into_iter()
                .any(|i| self.off_primary(i) && self.snap.pools[i].has_available(now_ns))
        };
        if route.on_standby == OnStandby::Refuse && (attempts > 1 || standby_could_serve()) {
            Reason::OffOnStandby
        } else {
            Reason::NoTierCanServe
        }
    }

    /// Candidate pools: `current` first, then every other pool by ascending tier that is
    /// `gradual`, or `failover_only` while no lower tier has an available backend.
    fn candidates(&self, current: usize, now_ns: u64) -> Vec<usize> {
        let pools = &self.snap.pools;
        let mut order: Vec<usize> = (0..pools.len()).collect();
        order.sort_by_key(|&i| (i != current, pools[i].tier(), i));
        order.retain(|&i| {
            i == current
                || pools[i].conf.spill == Spill::Gradual
                || self.lower_tiers_down(pools[i].tier(), now_ns)
        });
        if self.plan.primary_held {
            // A failback holds the primary out: no retry goes there either.
            let primary = self.plan.primary();
            order.retain(|&i| i == current || Some(pools[i].tier()) != primary);
        }
        if self.keyed {
            // Its own tier while any of it can serve; the others only once none can.
            let own = pools[current].tier();
            let own_serves = pools
                .iter()
                .any(|p| p.tier() == own && p.has_available(now_ns));
            order.retain(|&i| pools[i].tier() == own || !own_serves);
        }
        order
    }

    /// No pool below `tier` has an available backend.
    fn lower_tiers_down(&self, tier: u32, now_ns: u64) -> bool {
        self.snap
            .pools
            .iter()
            .filter(|p| p.tier() < tier)
            .all(|p| !p.has_available(now_ns))
    }
}

#[cfg(test)]
#[path = "placement_tests.rs"]
mod tests;
