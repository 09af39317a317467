//! Turns for the replicas of a fleet: each gets a slot from the sorted list of replica ids it
//! has seen, and slot `i` of `n` acts at offset `i × period / n` of each period of the wall
//! clock. The standby capacity probe uses it so that replicas never ramp load on the standby
//! at the same time (they would measure each other). Two replicas that momentarily count the
//! fleet differently may share a turn once; the next exchange of state settles it.

use std::time::Duration;

/// This replica's slot among the fleet's replica ids (index, count); (0, 1) alone.
pub fn slot(me: &str, seen: &[String]) -> (usize, usize) {
    let mut ids: Vec<&str> = seen.iter().map(String::as_str).collect();
    ids.push(me);
    ids.sort_unstable();
    ids.dedup();
    let i = ids.iter().position(|id| *id == me).unwrap_or(0);
    (i, ids.len())
}

/// How long until this slot's next turn: slot `i` of `n` starts at offset `i × every / n`
/// of each `every` period of the wall clock (Unix time, shared by the fleet to within
/// NTP's error, which is far below the gap between slots).
pub fn until_turn(unix_ns: u64, every: Duration, (i, n): (usize, usize)) -> Duration {
    let every = every.as_nanos().max(1) as u64;
    let n = n.max(1) as u64;
    let offset = every / n * (i as u64 % n);
    let into = unix_ns % every;
    let wait = (offset + every - into) % every;
    Duration::from_nanos(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_distinct_and_stable_whoever_counts() {
        let seen: Vec<String> = ["c", "a", "b"].iter().map(|s| s.to_string()).collect();
        assert_eq!(slot("a", &seen), (0, 3));
        assert_eq!(slot("c", &seen), (2, 3));
        assert_eq!(slot("b", &seen[..1]), (0, 2), "b among c only");
        assert_eq!(slot("z", &[]), (0, 1));
    }

    #[test]
    fn turns_are_spread_over_the_period() {
        let every = Duration::from_secs(300);
        let s = 1_000_000_000u64;
        // At 10 s into a period: slot 0 of 3 waits for the next period, slot 1 for 100 s.
        let at = 7 * 300 * s + 10 * s;
        assert_eq!(until_turn(at, every, (0, 3)), Duration::from_secs(290));
        assert_eq!(until_turn(at, every, (1, 3)), Duration::from_secs(90));
        assert_eq!(until_turn(at, every, (2, 3)), Duration::from_secs(190));
        assert_eq!(until_turn(7 * 300 * s, every, (0, 1)), Duration::ZERO);
    }
}
