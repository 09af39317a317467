//! Criterion benchmarks of every per-request decision: route match, tier draw, backend
//! selection (2 to 1000 backends: must stay flat), admission, and metric recording.
//! Run with `cargo bench --bench hot_path`.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use firebreak::admission::gate::Gate;
use firebreak::admission::limit::LimiterConf;
use firebreak::admission::tenant::Tenants;
use firebreak::config::{
    AdmissionConf, BackendConf, OnStandby, PoolConf, Priority, RouteConf, Spill,
};
use firebreak::metrics::{Key, Metrics, RequestHandles};
use firebreak::pool::select::pick;
use firebreak::pool::Pool;
use firebreak::route::RouteTable;
use firebreak::tier::{plan_tiers, Load};
use std::sync::Arc;
use std::time::Duration;

fn pool(name: &str, tier: u32, n: usize) -> Arc<Pool> {
    let conf = PoolConf {
        name: name.into(),
        tier,
        spill: Spill::Gradual,
        connect_timeout: Duration::from_secs(1),
        read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        slow_start: Duration::ZERO,
        health: None,
        backends: (0..n)
            .map(|i| BackendConf {
                addr: format!("10.{}.{}.{}:8080", tier, i / 250, i % 250 + 1)
                    .parse()
                    .unwrap(),
                weight: 1 + (i % 3) as u32,
            })
            .collect(),
        names: vec![],
        resolve_every: Duration::from_secs(30),
        host_header: None,
        tls: None,
    };
    Arc::new(Pool::build(
        conf,
        LimiterConf::from(&AdmissionConf::default()),
        None,
        &firebreak::resolve::Resolved::default(),
        1,
    ))
}

fn routes(c: &mut Criterion) {
    let conf = |name: &str, prefix: &str, priority| RouteConf {
        name: name.into(),
        host: None,
        path_prefix: prefix.into(),
        priority,
        on_standby: OnStandby::Serve,
        shadow: 0.0,
        title: None,
    };
    let table = RouteTable::new(&[
        conf("login", "/login", Priority::Critical),
        conf("orders", "/api/orders", Priority::Critical),
        conf("dispatch", "/dispatch", Priority::Critical),
        conf("reports", "/reports", Priority::Bulk),
        conf("exports", "/exports", Priority::Bulk),
        conf("default", "/", Priority::Normal),
    ]);
    c.bench_function("route/find (6 routes)", |b| {
        b.iter(|| {
            table.find(
                black_box(Some("app.firetms.com")),
                black_box("/api/orders/123/lines"),
            )
        })
    });
}

fn selection(c: &mut Criterion) {
    let mut g = c.benchmark_group("select/pick");
    for n in [2usize, 10, 100, 1000] {
        let p = pool("primary", 0, n);
        let mut rng = fastrand::Rng::with_seed(7);
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                let plan = p.plan();
                pick(&p.backends, &plan, &[], &mut rng, 2)
            })
        });
    }
    g.finish();
    let pools = [pool("primary", 0, 2), pool("standby", 1, 1)];
    let plan = plan_tiers(&pools, Load::default());
    let mut rng = fastrand::Rng::with_seed(9);
    c.bench_function("tier/draw", |b| b.iter(|| plan.draw(&mut rng)));
}

fn admission(c: &mut Criterion) {
    let gate = Gate::new(&LimiterConf::from(&AdmissionConf::default()));
    c.bench_function("admission/gate acquire+release", |b| {
        b.iter(|| {
            if gate.try_acquire(black_box(Priority::Normal)) {
                gate.release();
            }
        })
    });
    let tenants = Arc::new(Tenants::default());
    c.bench_function("admission/tenant bucket+enter", |b| {
        b.iter(|| {
            let bucket = tenants.bucket(black_box("tenant-42"));
            drop(tenants.enter(bucket, 20.0, false, true, 1));
        })
    });
}

fn metrics(c: &mut Criterion) {
    let m = Metrics::new();
    // What the proxy does per request: handles resolved once per snapshot.
    let handles = RequestHandles::new(6, 2);
    let key = Key {
        route: Some(3),
        route_name: "orders",
        pool: Some(0),
        pool_name: "primary",
    };
    c.bench_function("metrics/request counter + histogram (pre-resolved)", |b| {
        b.iter(|| {
            handles.count(&m.requests, black_box(key), black_box(200));
            handles.observe(&m.duration, black_box(key), black_box(0.012));
        })
    });
    // The same through the label lookup, for comparison.
    c.bench_function(
        "metrics/request counter + histogram (with_label_values)",
        |b| {
            b.iter(|| {
                m.requests
                    .with_label_values(&["orders", "primary", "200"])
                    .inc();
                m.duration
                    .with_label_values(&["orders", "primary"])
                    .observe(0.012);
            })
        },
    );
}

criterion_group!(benches, routes, selection, admission, metrics);
criterion_main!(benches);
