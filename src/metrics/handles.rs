//! Pre-resolved handles for the two per-request metrics, `firebreak_requests_total{route,
//! pool,code}` and `firebreak_request_duration_seconds{route,pool}`.
//!
//! `MetricVec::with_label_values` hashes every label string and takes a read lock on each
//! call; the request path also had to format the status code and copy the route name first.
//! Here each (route, pool) cell resolves its children once, on first use, and later requests
//! index straight into them. A table belongs to one config snapshot (its route and pool
//! indices); the children it holds are the registry's own, so counts carry across reloads.

use prometheus::{Histogram, HistogramVec, IntCounter, IntCounterVec};
use std::sync::OnceLock;

/// Status codes with their own slot: 100–599, plus 0 for "closed" (no answer written).
const FIRST_CODE: u16 = 100;
const LAST_CODE: u16 = 599;
const CODE_SLOTS: usize = (LAST_CODE - FIRST_CODE) as usize + 2;

/// Handles for every (route, pool) pair of one snapshot, "none" included for both.
#[derive(Debug)]
pub struct RequestHandles {
    pools: usize,
    cells: Box<[Cell]>,
}

#[derive(Debug, Default)]
struct Cell {
    duration: OnceLock<Histogram>,
    codes: OnceLock<Box<[OnceLock<IntCounter>]>>,
}

/// Which (route, pool) a finished request is counted under; `None` is the "none" label.
#[derive(Debug, Clone, Copy)]
pub struct Key<'a> {
    pub route: Option<usize>,
    pub route_name: &'a str,
    pub pool: Option<usize>,
    pub pool_name: &'a str,
}

impl RequestHandles {
    /// A table for `routes` routes and `pools` pools.
    pub fn new(routes: usize, pools: usize) -> Self {
        let cells = (0..(routes + 1) * (pools + 1)).map(|_| Cell::default());
        Self {
            pools,
            cells: cells.collect(),
        }
    }

    /// The cell of a key; `None` (use the vec directly) for an index outside this table.
    fn cell(&self, key: &Key) -> Option<&Cell> {
        let width = self.pools + 1;
        let routes = self.cells.len() / width - 1;
        let r = match key.route {
            Some(r) if r < routes => r,
            Some(_) => return None,
            None => routes, // unrouted requests: the last row
        };
        let p = match key.pool {
            Some(p) if p < self.pools => p,
            Some(_) => return None,
            None => self.pools,
        };
        self.cells.get(r * width + p)
    }

    /// Counts one answered request; `code` 0 means the connection closed before an answer.
    pub fn count(&self, vec: &IntCounterVec, key: Key, code: u16) {
        let slot = match code {
            0 => Some(0),
            FIRST_CODE..=LAST_CODE => Some((code - FIRST_CODE) as usize + 1),
            _ => None,
        };
        match (self.cell(&key), slot) {
            (Some(cell), Some(slot)) => {
                let codes = cell
                    .codes
                    .get_or_init(|| (0..CODE_SLOTS).map(|_| OnceLock::new()).collect());
                codes[slot]
                    .get_or_init(|| {
                        vec.with_label_values(&[key.route_name, key.pool_name, &label(code)])
                    })
                    .inc();
            }
            _ => vec
                .with_label_values(&[key.route_name, key.pool_name, &label(code)])
                .inc(),
        }
    }

    /// Records one request's duration in seconds.
    pub fn observe(&self, vec: &HistogramVec, key: Key, seconds: f64) {
        match self.cell(&key) {
            Some(cell) => cell
                .duration
                .get_or_init(|| vec.with_label_values(&[key.route_name, key.pool_name]))
                .observe(seconds),
            None => vec
                .with_label_values(&[key.route_name, key.pool_name])
                .observe(seconds),
        }
    }
}

/// The `code` label: the status, or "closed" when none was written.
pub fn label(code: u16) -> String {
    if code == 0 {
        "closed".to_string()
    } else {
        code.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::{HistogramOpts, Opts};

    fn key<'a>(route: Option<usize>, pool: Option<usize>, names: (&'a str, &'a str)) -> Key<'a> {
        Key {
            route,
            route_name: names.0,
            pool,
            pool_name: names.1,
        }
    }

    #[test]
    fn counts_land_on_the_labelled_children_and_survive_a_new_table() {
        let vec = IntCounterVec::new(Opts::new("t", "t"), &["route", "pool", "code"]).unwrap();
        let h = RequestHandles::new(2, 2);
        for _ in 0..3 {
            h.count(&vec, key(Some(1), Some(0), ("orders", "primary")), 200);
        }
        h.count(&vec, key(Some(1), None, ("orders", "none")), 503);
        h.count(&vec, key(None, None, ("none", "none")), 404);
        h.count(&vec, key(Some(0), Some(1), ("login", "standby")), 0);
        h.count(&vec, key(Some(0), Some(1), ("login", "standby")), 999);
        // A reload builds a new table; it resolves to the same children.
        let h2 = RequestHandles::new(3, 1);
        h2.count(&vec, key(Some(2), Some(0), ("orders", "primary")), 200);
        let get = |l: &[&str]| vec.with_label_values(l).get();
        assert_eq!(get(&["orders", "primary", "200"]), 4);
        assert_eq!(get(&["orders", "none", "503"]), 1);
        assert_eq!(get(&["none", "none", "404"]), 1);
        assert_eq!(get(&["login", "standby", "closed"]), 1);
        assert_eq!(get(&["login", "standby", "999"]), 1);
        assert_eq!(get(&["orders", "primary", "503"]), 0);
    }

    #[test]
    fn durations_are_observed_per_route_and_pool() {
        let vec = HistogramVec::new(HistogramOpts::new("d", "d"), &["route", "pool"]).unwrap();
        let h = RequestHandles::new(1, 1);
        h.observe(&vec, key(Some(0), Some(0), ("r", "p")), 0.5);
        h.observe(&vec, key(Some(0), Some(0), ("r", "p")), 1.5);
        h.observe(&vec, key(None, Some(7), ("none", "none")), 1.0);
        let r = vec.with_label_values(&["r", "p"]);
        assert_eq!(r.get_sample_count(), 2);
        assert!((r.get_sample_sum() - 2.0).abs() < 1e-9);
        assert_eq!(
            vec.with_label_values(&["none", "none"]).get_sample_count(),
            1
        );
    }
}
