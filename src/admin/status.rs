//! `GET /status` (JSON) and `GET /` (a self-refreshing HTML page that renders it).

use crate::app::App;
use crate::clock::now_ns;
use crate::config::Spill;
use serde_json::{json, Value};

/// The status page: no external assets, no build step; it polls `/status` every 2 s.
pub const PAGE: &str = include_str!("status.html");

fn ms(ns: Option<f64>) -> Value {
    ns.map(|v| json!((v / 1e4).round() / 100.0))
        .unwrap_or(Value::Null)
}

/// The failback state: `normal`, `failover`, `waiting` ("primary healthy, waiting for
/// failback since …") or `ramping`, with Unix times.
fn failback_json(app: &App, snap: &crate::reload::Snapshot) -> Value {
    use crate::failback::Phase;
    let conf = snap.config.failback.as_ref();
    let now = crate::clock::now_ns();
    let unix =
        |ns: u64| crate::clock::unix_now().saturating_sub(now.saturating_sub(ns) / 1_000_000_000);
    let mode = conf.map(|c| match c.mode {
        crate::config::FailbackMode::Auto => "auto",
        crate::config::FailbackMode::Manual => "manual",
    });
    let (state, since, healthy_since) = match app.failback.phase() {
        Phase::Normal => ("normal", None, None),
        Phase::Failover { since } => ("failover", Some(unix(since)), None),
        Phase::Waiting {
            since,
            healthy_since,
        } => ("waiting", Some(unix(since)), Some(unix(healthy_since))),
        Phase::Ramping { since, .. } => ("ramping", Some(unix(since)), None),
    };
    json!({
        "mode": mode,
        "state": state,
        "failover_since": since,
        "primary_healthy_since": healthy_since,
        "primary_share_cap": app.failback.cap(conf, now),
    })
}

pub fn status_json(app: &App) -> Value {
    let snap = app.store.load();
    let now = now_ns();
    let tiers = snap.tiers();
    let m = app.maintenance.get();
    let tier_of = |t: u32| tiers.tiers.iter().find(|e| e.tier == t);
    let pools: Vec<Value> = snap
        .pools
        .iter()
        .map(|p| {
            let plan = p.plan();
            let gate = &p.gate;
            let tier_share = tier_of(p.tier()).map(|t| t.share).unwrap_or(0.0);
            let tier_total: f64 = tier_of(p.tier()).map(|t| t.pools.iter().map(|x| x.1).sum()).unwrap_or(0.0);
            let my_weight = tier_of(p.tier())
                .and_then(|t| t.pools.iter().find(|x| std::ptr::eq(snap.pools[x.0].as_ref(), p.as_ref())))
                .map(|x| x.1)
                .unwrap_or(0.0);
            let pool_share = if tier_total > 0.0 { tier_share * my_weight / tier_total } else { 0.0 };
            let backends: Vec<Value> = p
                .backends
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    let health = if b.is_drained() {
                        "drained"
                    } else if b.is_available(now) {
                        "up"
                    } else if b.health.is_up() {
                        "ejected"
                    } else {
                        "down"
                    };
                    json!({
                        "address": b.label,
                        "name": b.host,
                        "weight": b.weight(),
                        "health": health,
                        "effective_share": pool_share * plan.share(i),
                        "share_in_pool": plan.share(i),
                        "latency_ms": ms(if b.samples() > 0 { Some(b.ewma.get()) } else { None }),
                        "in_flight": b.inflight(),
                        "limit": (gate.limit() * plan.share(i)).round(),
                        "responses": b.samples(),
                        "failures": b.failures(),
                        "ejections": b.health.ejections_total(),
                        "problem": b.problem(),
                    })
                })
                .collect();
            json!({
                "name": p.name(),
                "tier": p.tier(),
                "spill": match p.conf.spill { Spill::Gradual => "gradual", Spill::FailoverOnly => "failover_only" },
                "state": tier_of(p.tier()).map(|t| t.state.as_str()).unwrap_or("down"),
                "effective_share": pool_share,
                "healthy_fraction": plan.health,
                "latency_factor": plan.latency_factor,
                "latency_p50_ms": ms(plan.p50_ns),
                "latency_baseline_ms": ms(plan.baseline_ns),
                "limit": (gate.limit() * 10.0).round() / 10.0,
                "in_flight": gate.inflight(),
                "queued": gate.queued(),
                "congested": gate.congested(),
                "limit_baseline_ms": ms(gate.baseline_ns()),
                "held": gate.held(),
                "admitted": gate.observed.seen(),
                "backends": backends,
            })
        })
        .collect();
    json!({
        "version": snap.version,
        "config_path": app.store.path().display().to_string(),
        "last_reload": app.store.last_report(),
        "maintenance": {
            "enabled": m.enabled,
            "message": m.message,
            "retry_after_seconds": m.retry_after.as_secs(),
            "source": m.source,
            "set_at": m.stamp.at,
        },
        "failback": failback_json(app, &snap),
        "fleet": fleet_json(app, &snap),
        "notes": app.ledger.view().notes,
        "serving": tiers.serving(),
        "in_flight": app.inflight(),
        "tiers": tiers.tiers.iter().map(|t| json!({"tier": t.tier, "state": t.state.as_str(), "share": t.share, "why": t.why})).collect::<Vec<_>>(),
        "pools": pools,
        "standby": {
            "capacity_rps": app.standby.estimate().map(|e| e.capacity_rps),
            "capacity_ratio": Some(app.standby.ratio()).filter(|r| r.is_finite()),
            "primary_peak_rps": app.standby.primary_peak_rps(),
            "estimate": app.standby.estimate(),
            "shadow_sent": app.standby.shadow_sent.load(std::sync::atomic::Ordering::Relaxed),
            "shadow_dropped": app.standby.shadow_dropped.load(std::sync::atomic::Ordering::Relaxed),
            "drill": app.standby.drill(),
        },
    })
}

/// The fleet as the last exchange saw it, and the standby capacity ratio over the whole
/// fleet's primary load (null without a `[fleet]`, before an exchange, or with no estimate).
fn fleet_json(app: &App, snap: &crate::reload::Snapshot) -> Value {
    if snap.config.fleet.is_none() {
        return Value::Null;
    }
    let seen = crate::lock::lock(&app.fleet_seen).clone();
    let (slot, replicas) = crate::slot::slot(&app.replica_id, &seen.ids);
    let capacity = app.standby.estimate().map(|e| e.capacity_rps);
    let ratio = capacity
        .filter(|_| seen.at > 0 && seen.primary_load_rps > 0.0)
        .map(|c| c / seen.primary_load_rps);
    json!({
        "replica": app.replica_id,
        "replicas": replicas,
        "probe_slot": slot,
        "peers": seen.peers,
        "peers_reached": seen.reached,
        "synced_at": seen.at,
        "primary_load_rps": seen.primary_load_rps,
        "standby_capacity_ratio": ratio,
        "complete": seen.reached == seen.peers,
    })
}
