//! Unit tests of the gate: caps per class, waiting, hand-over order, no leaked slots.

use super::*;
use std::sync::Arc;
use std::time::Instant;

fn gate(limit: f64) -> Arc<Gate> {
    // A cold gate is congested, so its caps are strict: 10 -> critical 10, normal 9, bulk 7.
    Arc::new(Gate::new(&LimiterConf {
        initial: limit,
        min: 1.0,
        max: 1000.0,
        tolerance: 1.5,
    }))
}

#[test]
fn classes_fill_their_share_of_the_limit() {
    let g = gate(10.0);
    assert!(g.congested());
    let mut n = 0;
    while g.try_acquire(Priority::Bulk) {
        n += 1;
    }
    assert_eq!(n, 7);
    while g.try_acquire(Priority::Normal) {
        n += 1;
    }
    assert_eq!(n, 9);
    while g.try_acquire(Priority::Critical) {
        n += 1;
    }
    assert_eq!(n, 10);
    assert_eq!(g.inflight(), 10);
    for _ in 0..10 {
        g.release();
    }
    assert_eq!(g.inflight(), 0);
}

#[tokio::test]
async fn bulk_is_refused_at_once_and_others_wait_their_budget() {
    let g = gate(1.0);
    assert!(g.try_acquire(Priority::Critical));
    let t = Instant::now();
    assert_eq!(
        g.acquire(Priority::Bulk, Duration::ZERO, false).await,
        Err(Refused::Full)
    );
    assert!(t.elapsed() < Duration::from_millis(5));
    let t = Instant::now();
    assert_eq!(
        g.acquire(Priority::Normal, Duration::from_millis(40), false)
            .await,
        Err(Refused::QueueTimeout)
    );
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(40) && waited < Duration::from_millis(200),
        "{waited:?}"
    );
    g.release();
    assert_eq!(g.inflight(), 0, "a timed-out waiter leaked no slot");
}

#[tokio::test]
async fn a_released_slot_goes_to_the_highest_waiting_class_first() {
    let g = gate(1.0);
    assert!(g.try_acquire(Priority::Critical));
    let order = Arc::new(Mutex::new(vec![]));
    let mut tasks = vec![];
    for p in [Priority::Normal, Priority::Critical] {
        let (g, order) = (g.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            g.acquire(p, Duration::from_secs(2), false).await.unwrap();
            order.lock().unwrap().push(p);
            tokio::time::sleep(Duration::from_millis(5)).await;
            g.release();
        }));
        tokio::time::sleep(Duration::from_millis(10)).await; // normal queued first
    }
    g.release();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        *order.lock().unwrap(),
        vec![Priority::Critical, Priority::Normal]
    );
    assert_eq!(g.inflight(), 0);
    assert_eq!(g.queued(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_flight_never_exceeds_the_cap_under_contention() {
    let g = gate(5.0);
    let max_seen = Arc::new(AtomicU32::new(0));
    let live = Arc::new(AtomicU32::new(0));
    let mut tasks = vec![];
    for i in 0..200 {
        let (g, max_seen, live) = (g.clone(), max_seen.clone(), live.clone());
        tasks.push(tokio::spawn(async move {
            let p = [Priority::Critical, Priority::Normal][i % 2];
            if g.acquire(p, Duration::from_millis(500), false)
                .await
                .is_ok()
            {
                let now = live.fetch_add(1, SeqCst) + 1;
                max_seen.fetch_max(now, SeqCst);
                tokio::time::sleep(Duration::from_millis(2)).await;
                live.fetch_sub(1, SeqCst);
                g.release();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(max_seen.load(SeqCst) <= 5, "{}", max_seen.load(SeqCst));
    assert_eq!(g.inflight(), 0);
}

#[test]
fn a_gate_that_refuses_a_share_of_its_requests_is_shedding_for_about_a_second() {
    let g = gate(10.0);
    let conf = LimiterConf {
        initial: 10.0,
        min: 1.0,
        max: 1000.0,
        tolerance: 1.5,
    };
    let window = crate::latency::Drained::default();
    let tick = |admitted: u32, refused: u32| {
        (0..admitted).for_each(|_| g.count(Priority::Normal, true));
        (0..refused).for_each(|_| g.count(Priority::Normal, false));
        g.tick(&window, &conf);
    };
    tick(100, 0);
    assert!(!g.shedding());
    tick(100, 2); // 2 % for one window: noise
    assert!(!g.shedding());
    for _ in 0..5 {
        tick(30, 70); // refusing most of it
    }
    assert!(g.shedding());
    let mut quiet = 0;
    while g.shedding() {
        tick(100, 0);
        quiet += 1;
        assert!(quiet < 40, "still shedding after {quiet} clean windows");
    }
    assert!(quiet >= 5, "a single clean window cleared it ({quiet})");
    for _ in 0..5 {
        tick(30, 70);
    }
    assert!(g.shedding());
    let mut idle = 0;
    while g.shedding() {
        tick(0, 0); // no requests at all: it stops shedding too
        idle += 1;
        assert!(idle < 40, "an idle pool still sheds after {idle} windows");
    }
}

#[tokio::test]
async fn a_short_burst_waits_and_is_served() {
    let g = gate(2.0);
    assert!(g.try_acquire(Priority::Critical) && g.try_acquire(Priority::Critical));
    let mut waiters = vec![];
    for _ in 0..4 {
        let g = g.clone();
        waiters.push(tokio::spawn(async move {
            let r = g
                .acquire(Priority::Critical, Duration::from_millis(500), false)
                .await;
            tokio::time::sleep(Duration::from_millis(5)).await;
            if r.is_ok() {
                g.release();
            }
            r
        }));
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    g.release();
    g.release();
    for w in waiters {
        assert_eq!(
            w.await.unwrap(),
            Ok(()),
            "a burst that drains is served, not refused"
        );
    }
    assert_eq!((g.inflight(), g.queued()), (0, 0));
}

#[tokio::test]
async fn a_standing_queue_serves_the_newest_and_refuses_the_stale_early() {
    let g = gate(1.0);
    assert!(g.try_acquire(Priority::Critical));
    let t0 = Instant::now();
    let spawn = |g: &Arc<Gate>| {
        let g = g.clone();
        tokio::spawn(async move {
            let r = g
                .acquire(Priority::Critical, Duration::from_millis(500), false)
                .await;
            (r, t0.elapsed())
        })
    };
    let oldest = spawn(&g);
    // Arrivals every 10 ms and no slot freed: the lane never drains, it stands.
    let mut others = vec![];
    for _ in 0..15 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        others.push(spawn(&g));
    }
    let newest = spawn(&g);
    tokio::time::sleep(Duration::from_millis(5)).await;
    g.release(); // the slot goes to the newest waiter, not the oldest
    let (r, _) = newest.await.unwrap();
    assert_eq!(r, Ok(()));
    // A tick refuses the waiters older than the short wait, long before their 500 ms.
    g.tick(
        &crate::latency::Drained::default(),
        &LimiterConf {
            initial: 1.0,
            min: 1.0,
            max: 10.0,
            tolerance: 1.5,
        },
    );
    let (r, at) = oldest.await.unwrap();
    assert_eq!(r, Err(Refused::QueueTimeout));
    assert!(at < Duration::from_millis(400), "refused only at {at:?}");
    g.release();
    for o in others {
        let _ = o.await;
    }
}
