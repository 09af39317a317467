//! The tier plan: how much of all traffic each tier takes, and why. Computed by [`plan_tiers`]
//! every planning tick (see [`shares`] for the rules), read by placement for every request.

mod shares;

pub use shares::{plan_tiers, Load, OVERPROVISION};

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
    /// Why the tier has its share.
    pub why: Why,
}

/// What the planner read for a tier: shown in `/status`, so an operator sees why a share is
/// what it is.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Why {
    /// Healthy fraction of the tier's eligible weight, slow-start ramp included.
    pub healthy_fraction: f64,
    /// Latency against the tier's own baseline: 1 = normal, down to the floor when far slower.
    pub latency_factor: f64,
    /// Set when a higher tier is measurably faster while this one is slow: the factor that
    /// comparison gives (this tier's latency ÷ the faster tier's), already in `latency_factor`.
    pub versus_faster_tier: Option<f64>,
    /// Set when the share was capped by what the tier can carry at its own good latency: the
    /// cap, as a share of all traffic.
    pub capacity_cap: Option<f64>,
}

/// The current split of traffic across tiers, read by every request.
#[derive(Debug, Clone, Default)]
pub struct TierPlan {
    pub tiers: Vec<TierEntry>,
    /// A failback holds the primary tier out: it takes no traffic at all, not even spill or
    /// retries, until it is released.
    pub primary_held: bool,
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

    /// Holds the primary tier at `cap` (0..=1) of the share the plan gives it, moving the rest
    /// to the first tier above with capacity (a failback that waits or ramps). Does nothing
    /// when no such tier exists: the primary then serves rather than nobody.
    pub fn cap_primary(&mut self, cap: f64) {
        let cap = cap.clamp(0.0, 1.0);
        let primary = self.primary();
        let Some(p) = self.tiers.iter().position(|t| Some(t.tier) == primary) else {
            return;
        };
        let Some(to) = self
            .tiers
            .iter()
            .position(|t| Some(t.tier) != primary && !t.pools.is_empty())
        else {
            return;
        };
        let moved = self.tiers[p].share * (1.0 - cap);
        self.tiers[p].share -= moved;
        self.tiers[to].share += moved;
        if cap <= 0.0 {
            // Held out entirely: not a pool to spill to either.
            self.tiers[p].pools.clear();
            self.primary_held = true;
        }
    }

    /// Draws a pool index: a tier by share, then a pool within it by weight.
    pub fn draw(&self, rng: &mut fastrand::Rng) -> Option<usize> {
        self.draw_at(rng.f64(), rng.f64())
    }

    /// The pool at positions `u` (among tiers: the shares cut [0, 1) into bands in tier
    /// order) and `v` (among the tier's pools, by capacity), both in [0, 1). A fixed `u` (an
    /// affinity key's) keeps its tier while the shares stand still, and changes tier only when
    /// its band moves.
    pub fn draw_at(&self, u: f64, v: f64) -> Option<usize> {
        let mut u = u;
        let tier = self.tiers.iter().filter(|t| t.share > 0.0).find(|t| {
            u -= t.share;
            u < 0.0
        });
        // Rounding can leave u a hair above 0: fall back to the last serving tier.
        let tier = tier.or_else(|| self.tiers.iter().rev().find(|t| t.share > 0.0))?;
        pick_pool(tier, v)
    }

    /// A pool of tier `tier` at position `v` in [0, 1) (by capacity), whatever the tier's
    /// share: where a key held on that tier goes.
    pub fn pool_in(&self, tier: u32, v: f64) -> Option<usize> {
        pick_pool(self.tiers.iter().find(|t| t.tier == tier)?, v)
    }
}

fn pick_pool(tier: &TierEntry, v: f64) -> Option<usize> {
    let total: f64 = tier.pools.iter().map(|p| p.1).sum();
    if total <= 0.0 {
        return tier.pools.first().map(|p| p.0);
    }
    let mut v = v * total;
    tier.pools
        .iter()
        .find(|p| {
            v -= p.1;
            v < 0.0
        })
        .or(tier.pools.last())
        .map(|p| p.0)
}
