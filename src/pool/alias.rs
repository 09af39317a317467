//! Walker/Vose alias table: O(1) weighted random draws.
//!
//! Rebuilt (O(n)) by the planner whenever effective weights change, read lock-free by every
//! request. A draw costs one random index and one coin flip whatever the number of backends,
//! which keeps selection flat from 2 to 1000 backends.

/// An alias table over `n` items with non-negative weights.
#[derive(Debug, Clone, Default)]
pub struct AliasTable {
    prob: Vec<f64>,
    alias: Vec<u32>,
    /// Indices of the items the table was built over (items with weight 0 are left out).
    items: Vec<u32>,
}

impl AliasTable {
    /// Builds a table from `(item index, weight)` pairs. Non-finite or non-positive weights are
    /// left out; an empty table draws nothing.
    pub fn new(weights: impl IntoIterator<Item = (u32, f64)>) -> Self {
        let (items, w): (Vec<u32>, Vec<f64>) = weights
            .into_iter()
            .filter(|(_, w)| w.is_finite() && *w > 0.0)
            .unzip();
        let n = w.len();
        if n == 0 {
            return Self::default();
        }
        let total: f64 = w.iter().sum();
        let mut scaled: Vec<f64> = w.iter().map(|x| x * n as f64 / total).collect();
        let mut prob = vec![1.0; n];
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| scaled[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            prob[s] = scaled[s];
            alias[s] = l as u32;
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Leftovers are 1.0 up to rounding.
        Self { prob, alias, items }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Draws an item index with probability proportional to its weight.
    pub fn draw(&self, rng: &mut fastrand::Rng) -> Option<u32> {
        let n = self.items.len();
        if n == 0 {
            return None;
        }
        let i = rng.usize(..n);
        let j = if rng.f64() < self.prob[i] {
            i
        } else {
            self.alias[i] as usize
        };
        Some(self.items[j])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares(t: &AliasTable, n: usize, draws: usize) -> Vec<f64> {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut c = vec![0usize; n];
        for _ in 0..draws {
            c[t.draw(&mut rng).unwrap() as usize] += 1;
        }
        c.into_iter().map(|x| x as f64 / draws as f64).collect()
    }

    #[test]
    fn draws_follow_weights() {
        let t = AliasTable::new([(0, 3.0), (1, 1.0)]);
        let s = shares(&t, 2, 100_000);
        assert!((s[0] - 0.75).abs() < 0.01, "{s:?}");
        let t = AliasTable::new([(0, 1.0), (1, 2.0), (2, 0.0), (3, 7.0)]);
        let s = shares(&t, 4, 100_000);
        assert!(
            (s[0] - 0.1).abs() < 0.01 && (s[1] - 0.2).abs() < 0.01,
            "{s:?}"
        );
        assert_eq!(s[2], 0.0);
        assert!((s[3] - 0.7).abs() < 0.01, "{s:?}");
    }

    #[test]
    fn empty_and_degenerate_tables_draw_nothing() {
        let mut rng = fastrand::Rng::with_seed(1);
        assert_eq!(AliasTable::new([]).draw(&mut rng), None);
        assert_eq!(
            AliasTable::new([(0, 0.0), (1, f64::NAN), (2, -1.0)]).draw(&mut rng),
            None
        );
        assert_eq!(AliasTable::new([(5, 1.0)]).draw(&mut rng), Some(5));
    }
}
