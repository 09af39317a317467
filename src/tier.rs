//! Traffic shares across tiers: primary first, the rest spills over gradually.
//!
//! Envoy's priority-load model, extended with latency. Each pool's *capacity* is its healthy
//! fraction (slow-start ramp included) × its latency factor (see `pool::plan`). A tier carries
//! `min(1, OVERPROVISION × capacity)` of what reaches it and the rest spills to the next tier:
//! a healthy primary keeps everything, one that lost half its weight keeps 70 %, a dead one
//! nothing. A `failover_only` pool is eligible only when every lower tier is entirely down.
//! When the tiers together cannot take 100 % (all partly down), shares are normalised, as in
//! Envoy. When no tier has any capacity nothing can be served: the maintenance answer.

use crate::config::Spill;
use crate::pool::Pool;
use std::sync::Arc;

/// A tier may take this much more than its healthy fraction (Envoy's overprovisioning 1.4).
pub const OVERPROVISION: f64 = 1.4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TierState {
    Up,
    Degraded,
    Down,
}

impl TierState {
    pub fn as_str(self) -> &'static str {
        match self {
            TierState::Up => "up",
            TierState::Degraded => "degraded",
            TierState::Down => "down",
        }
    }
}

#[derive(Debug, Clone)]
pub struct TierEntry {
    pub tier: u32,
    /// Share of all traffic sent to this tier, in [0, 1].
    pub share: f64,
    pub state: TierState,
    /// (pool index, relative weight within the tier); only eligible pools with capacity.
    pub pools: Vec<(usize, f64)>,
}

/// The current split of traffic across tiers, read by every request.
#[derive(Debug, Clone, Default)]
pub struct TierPlan {
    pub tiers: Vec<TierEntry>,
}

impl TierPlan {
    /// At least one tier can take traffic.
    pub fn serving(&self) -> bool {
        self.tiers.iter().any(|t| t.share > 0.0)
    }

    /// Every tier is degraded or down.
    pub fn all_degraded(&self) -> bool {
        self.tiers.iter().all(|t| t.state != TierState::Up)
    }

    /// The primary tier: the lowest tier number in the config. The plan lists every configured
    /// tier in ascending order, so this is the one answer to "which tier is the primary".
    pub fn primary(&self) -> Option<u32> {
        self.tiers.first().map(|t| t.tier)
    }

    /// The standby tier: the first tier above the primary.
    pub fn standby(&self) -> Option<u32> {
        self.tiers.get(1).map(|t| t.tier)
    }

    /// The pool may take traffic under this plan: it is a member of its tier's serving pools
    /// (`gradual`, or `failover_only` with every lower tier down, and some capacity left).
    pub fn eligible(&self, pool: usize) -> bool {
        self.tiers
            .iter()
            .any(|t| t.pools.iter().any(|&(i, _)| i == pool))
    }

    /// Gives `share` of all traffic to the first tier above the primary that has capacity (a
    /// running drill), scaling the others down. Does nothing when no such tier exists or it
    /// already carries more.
    pub fn apply_drill(&mut self, share: f64) {
        let share = share.clamp(0.0, 1.0);
        let primary = self.primary();
        let Some(i) = self
            .tiers
            .iter()
            .position(|t| Some(t.tier) != primary && !t.pools.is_empty())
        else {
            return;
        };
        if share <= self.tiers[i].share {
            return;
        }
        let others: f64 = self
            .tiers
            .iter()
            .enumerate()
            .filter(|(k, _)| *k != i)
            .map(|(_, t)| t.share)
            .sum();
        if others <= 0.0 {
            return;
        }
        let scale = (1.0 - share) / others;
        for (k, t) in self.tiers.iter_mut().enumerate() {
            t.share = if k == i { share } else { t.share * scale };
        }
    }

    /// Draws a pool index: a tier by share, then a pool within it by weight.
    pub fn draw(&self, rng: &mut fastrand::Rng) -> Option<usize> {
        let mut u = rng.f64();
        let tier = self.tiers.iter().filter(|t| t.share > 0.0).find(|t| {
            u -= t.share;
            u < 0.0
        });
        // Rounding can leave u a hair above 0: fall back to the last serving tier.
        let tier = tier.or_else(|| self.tiers.iter().rev().find(|t| t.share > 0.0))?;
        let total: f64 = tier.pools.iter().map(|p| p.1).sum();
        let mut v = rng.f64() * total;
        tier.pools
            .iter()
            .find(|p| {
                v -= p.1;
                v < 0.0
            })
            .or(tier.pools.last())
            .map(|p| p.0)
    }
}

/// Computes tier shares from the pools' current plans.
pub fn plan_tiers(pools: &[Arc<Pool>]) -> TierPlan {
    let mut order: Vec<u32> = pools.iter().map(|p| p.tier()).collect();
    order.sort_unstable();
    order.dedup();
    let mut remaining = 1.0f64;
    let mut lower_all_down = true;
    let mut tiers = Vec::with_capacity(order.len());
    for tier in order {
        let members: Vec<(usize, &Arc<Pool>)> = pools
            .iter()
            .enumerate()
            .filter(|(_, p)| p.tier() == tier)
            .collect();
        let plans: Vec<_> = members.iter().map(|(i, p)| (*i, p, p.plan())).collect();
        let any_health = plans.iter().any(|(_, _, pl)| pl.health > 0.0);
        let degraded = plans
            .iter()
            .any(|(_, _, pl)| pl.some_down || pl.latency_factor < 1.0);
        let eligible: Vec<_> = plans
            .iter()
            .filter(|(_, p, _)| p.conf.spill == Spill::Gradual || lower_all_down)
            .collect();
        let total_w: f64 = eligible.iter().map(|(_, _, pl)| pl.total_weight).sum();
        let cap_w: f64 = eligible
            .iter()
            .map(|(_, _, pl)| pl.total_weight * pl.capacity())
            .sum();
        let capacity = if total_w > 0.0 { cap_w / total_w } else { 0.0 };
        let share = remaining.min((OVERPROVISION * capacity).min(1.0));
        remaining -= share;
        let state = if !any_health {
            TierState::Down
        } else if degraded {
            TierState::Degraded
        } else {
            TierState::Up
        };
        let members = eligible
            .iter()
            .map(|(i, _, pl)| (*i, pl.total_weight * pl.capacity()))
            .filter(|(_, w)| *w > 0.0)
            .collect();
        tiers.push(TierEntry {
            tier,
            share,
            state,
            pools: members,
        });
        lower_all_down &= !any_health;
    }
    let used = 1.0 - remaining;
    if used > 0.0 && remaining > 1e-12 {
        for t in &mut tiers {
            t.share /= used;
        }
    }
    TierPlan { tiers }
}

#[cfg(test)]
#[path = "tier_tests.rs"]
mod tests;
