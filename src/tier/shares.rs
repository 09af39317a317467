//! Traffic shares across tiers: primary first, the rest spills over gradually.
//!
//! Envoy's priority-load model, extended with latency and capacity. A tier carries
//! `min(1, OVERPROVISION × healthy fraction) × latency factor` of what reaches it (slow-start
//! ramps count in the healthy fraction) and the rest spills to the next tier: a healthy primary
//! keeps everything, one that lost half its weight keeps 70 %, one at a quarter of its speed a
//! quarter, a dead one nothing. A `failover_only` pool is eligible only when every lower tier is entirely down.
//! When the tiers together cannot take 100 % (all partly down), shares are normalised, as in
//! Envoy. When no tier has any capacity nothing can be served: the maintenance answer.
//!
//! Two rules go beyond Envoy, for a standby that is not a second primary:
//! * **Compare tiers, not only a tier with its past.** A pool's latency factor compares it with
//!   its own baseline (`pool::plan`). When a pool is slow by that measure and a higher tier that
//!   can serve is measurably faster (its latest p50, from real or shadow traffic), the factor
//!   falls further, to `faster ÷ own` (at least [`VERSUS_FLOOR`]): a primary 8× slower than the
//!   standby keeps about 1/8 of the traffic. A pool that is normal against its own
//!   baseline is never compared (the tiers' traffic mixes differ: the standby may only see
//!   mirrored reads).
//! * **Capacity caps.** A tier is never planned more requests per second than it can carry at
//!   its own good latency, as far as firebreak knows it: the readiness probe's estimate of the
//!   standby ([`Load::standby_capacity_rps`]) against the offered load. What a capped tier
//!   cannot take goes back to the tiers below it that can serve (a primary that lost half its
//!   backends still has room: Envoy's 1.4 assumes tiers of equal size), then to those above.
//!   Requests beyond a pool's admission limit still spill per request (see `placement`).

use super::{TierEntry, TierPlan, TierState, Why};
use crate::config::Spill;
use crate::pool::{Pool, PoolPlan};
use std::sync::Arc;

/// A tier may take this much more than its healthy fraction (Envoy's overprovisioning 1.4).
pub const OVERPROVISION: f64 = 1.4;
/// The lowest factor the comparison with a faster tier gives: a slow primary keeps at least
/// 10 % of the traffic, enough samples to show within seconds that it is fast again (at 2 %
/// it took longer than 10 s under light load).
pub const VERSUS_FLOOR: f64 = 0.1;

/// What the planner knows of the traffic, beyond the pools' own plans.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Load {
    /// Requests per second the proxy answers through its pools (recent average), 0 if unknown.
    pub offered_rps: f64,
    /// The standby tier's sustainable requests per second (the readiness probe), if measured.
    pub standby_capacity_rps: Option<f64>,
}

/// An eligible pool of a tier as the planner sees it.
struct Member<'a> {
    index: usize,
    plan: &'a PoolPlan,
    /// Its latency factor for planning (own baseline, and the faster tier when that applies).
    factor: f64,
    /// The comparison with a faster tier, when it applied.
    versus: Option<f64>,
}

/// A pool's latency factor for planning, and the comparison factor when one applied.
fn latency_factor(pl: &PoolPlan, faster_p50: Option<f64>) -> (f64, Option<f64>) {
    let own = pl.latency_factor;
    match (faster_p50, pl.p50_ns) {
        (Some(fast), Some(p50)) if own < 1.0 && fast < p50 && p50 > 0.0 => {
            let versus = (fast / p50).clamp(VERSUS_FLOOR, 1.0);
            (own.min(versus), Some(versus))
        }
        _ => (own, None),
    }
}

/// Computes tier shares from the pools' current plans and the load.
pub fn plan_tiers(pools: &[Arc<Pool>], load: Load) -> TierPlan {
    let plans: Vec<_> = pools.iter().map(|p| p.plan()).collect();
    let mut order: Vec<u32> = pools.iter().map(|p| p.tier()).collect();
    order.sort_unstable();
    order.dedup();
    // The latency each tier serves at now: its fastest pool that can serve and has been measured.
    let served_p50 = |tier: u32| {
        pools
            .iter()
            .zip(&plans)
            .filter(|(p, pl)| p.tier() == tier && pl.health > 0.0)
            .filter_map(|(_, pl)| pl.p50_ns)
            .reduce(f64::min)
    };
    let p50s: Vec<Option<f64>> = order.iter().map(|&t| served_p50(t)).collect();
    let standby = order.get(1).copied();
    let mut remaining = 1.0f64;
    let mut lower_all_down = true;
    let mut tiers = Vec::with_capacity(order.len());
    for (k, &tier) in order.iter().enumerate() {
        let faster = p50s[k + 1..].iter().flatten().copied().reduce(f64::min);
        let members: Vec<(usize, &PoolPlan)> = (0..pools.len())
            .filter(|&i| pools[i].tier() == tier)
            .map(|i| (i, &**plans[i]))
            .collect();
        let any_health = members.iter().any(|(_, pl)| pl.health > 0.0);
        let degraded = members
            .iter()
            .any(|(_, pl)| pl.some_down || pl.latency_factor < 1.0 || pl.shedding);
        let eligible: Vec<Member> = members
            .iter()
            .filter(|(i, _)| pools[*i].conf.spill == Spill::Gradual || lower_all_down)
            .map(|&(index, plan)| {
                let (factor, versus) = latency_factor(plan, faster);
                Member {
                    index,
                    plan,
                    factor,
                    versus,
                }
            })
            .collect();
        let total_w: f64 = eligible.iter().map(|m| m.plan.total_weight).sum();
        let weighted = |f: fn(&Member) -> f64| {
            let sum: f64 = eligible.iter().map(|m| m.plan.total_weight * f(m)).sum();
            if total_w > 0.0 {
                sum / total_w
            } else {
                0.0
            }
        };
        let health = weighted(|m| m.plan.health);
        let capacity = weighted(|m| m.plan.health * m.factor);
        let latency = if health > 0.0 { capacity / health } else { 1.0 };
        // Overprovisioning makes up for lost backends (the others absorb more), not for
        // slowness: a tier at a quarter of its speed takes a quarter.
        let share = remaining.min((OVERPROVISION * health).min(1.0) * latency);
        remaining -= share;
        let state = if !any_health {
            TierState::Down
        } else if degraded {
            TierState::Degraded
        } else {
            TierState::Up
        };
        let why = Why {
            healthy_fraction: health,
            latency_factor: latency,
            versus_faster_tier: eligible.iter().filter_map(|m| m.versus).reduce(f64::min),
            capacity_cap: None,
        };
        let pools = eligible
            .iter()
            .map(|m| (m.index, m.plan.total_weight * m.plan.health * m.factor))
            .filter(|(_, w)| *w > 0.0)
            .collect();
        tiers.push(TierEntry {
            tier,
            share,
            state,
            pools,
            why,
        });
        lower_all_down &= !any_health;
    }
    let used = 1.0 - remaining;
    if used > 0.0 && remaining > 1e-12 {
        for t in &mut tiers {
            t.share /= used;
        }
    }
    let cap = match (load.standby_capacity_rps, standby) {
        (Some(rps), Some(tier)) if load.offered_rps > 0.0 && rps < load.offered_rps => {
            Some((tier, rps / load.offered_rps))
        }
        _ => None,
    };
    if let Some((tier, cap)) = cap {
        apply_cap(&mut tiers, tier, cap);
    }
    TierPlan {
        tiers,
        primary_held: false,
    }
}

/// Caps `tier`'s share at `cap` and gives the excess to the other serving tiers, lower ones
/// first, each up to all of the traffic. Nothing moves when no other tier can serve: a capped
/// tier that is the only one left still takes everything (admission sheds the excess).
fn apply_cap(tiers: &mut [TierEntry], tier: u32, cap: f64) {
    let Some(k) = tiers.iter().position(|t| t.tier == tier) else {
        return;
    };
    tiers[k].why.capacity_cap = Some(cap);
    let mut excess = tiers[k].share - cap;
    if excess <= 0.0 {
        return;
    }
    let order: Vec<usize> = (0..k).chain(k + 1..tiers.len()).collect();
    for j in order {
        if excess <= 0.0 {
            break;
        }
        if tiers[j].pools.is_empty() {
            continue;
        }
        let moved = excess.min((1.0 - tiers[j].share).max(0.0));
        tiers[j].share += moved;
        tiers[k].share -= moved;
        excess -= moved;
    }
}

#[cfg(test)]
#[path = "shares_tests.rs"]
mod tests;
