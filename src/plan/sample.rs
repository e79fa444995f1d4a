//! `[grid] sample = N`: N combinations of a grid picked at random, without listing the grid.
//!
//! Combination `i` of the grid (its position in odometer order) is drawn as `perm(0)`,
//! `perm(1)`, ... where `perm` is a seeded bijection of `0..total`: a balanced Feistel network
//! over the smallest even number of bits that holds `total`, with cycle walking (a value past
//! `total` is permuted again until it falls inside; the walk ends since a bijection's cycles
//! return to the start). Drawing N is then the first N draws that are not excluded, so a
//! larger N keeps every combination of a smaller one: a resume with `sample = 60` after
//! `sample = 50` reuses the 50 tasks. The round function is splitmix64, written here rather
//! than taken from a crate, so that the picks never change with a dependency's version.

/// The draws at most looked at, so that a grid whose combinations are nearly all excluded
/// ends: then fewer than N are picked.
const MAX_DRAWS: u64 = 50_000_000;

/// Up to `count` indices of `0..total`, not `excluded`, in increasing (odometer) order.
pub fn pick(total: u64, count: u64, seed: u64, mut excluded: impl FnMut(u64) -> bool) -> Vec<u64> {
    let perm = Feistel::new(total, seed);
    let mut out = Vec::with_capacity(count.min(1 << 20) as usize);
    for i in 0..total.min(MAX_DRAWS.max(count.saturating_mul(100))) {
        if out.len() as u64 == count {
            break;
        }
        let x = perm.apply(i);
        if !excluded(x) {
            out.push(x);
        }
    }
    out.sort_unstable();
    out
}

/// A keyed bijection of `0..total`.
struct Feistel {
    total: u64,
    half_bits: u32,
    keys: [u64; ROUNDS],
}

const ROUNDS: usize = 6;

impl Feistel {
    fn new(total: u64, seed: u64) -> Feistel {
        let bits = (64 - total.saturating_sub(1).leading_zeros()).max(2);
        let mut keys = [0; ROUNDS];
        let mut state = seed;
        for k in &mut keys {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            *k = splitmix64(state);
        }
        Feistel {
            total,
            half_bits: bits.div_ceil(2),
            keys,
        }
    }

    fn apply(&self, i: u64) -> u64 {
        let mut x = self.round_trip(i);
        while x >= self.total {
            x = self.round_trip(x);
        }
        x
    }

    fn round_trip(&self, x: u64) -> u64 {
        let mask = (1u64 << self.half_bits) - 1;
        let (mut left, mut right) = (x >> self.half_bits, x & mask);
        for k in &self.keys {
            let next = left ^ (splitmix64(right ^ k) & mask);
            left = right;
            right = next;
        }
        (left << self.half_bits) | right
    }
}

/// Sebastiano Vigna's splitmix64 finalizer.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_permutation_of_every_size() {
        for total in [1u64, 2, 3, 5, 17, 64, 1000] {
            let perm = Feistel::new(total, 7);
            let mut seen: Vec<u64> = (0..total).map(|i| perm.apply(i)).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..total).collect::<Vec<_>>(), "total {total}");
        }
    }

    #[test]
    fn a_larger_sample_keeps_a_smaller_one() {
        let small = pick(1_000_000_000_000, 50, 0, |_| false);
        let large = pick(1_000_000_000_000, 60, 0, |_| false);
        assert_eq!(small.len(), 50);
        assert!(small.iter().all(|x| large.contains(x)));
        assert_ne!(pick(1_000_000_000_000, 50, 1, |_| false), small);
    }

    #[test]
    fn excluded_indices_are_skipped() {
        let odd = pick(100, 10, 3, |x| x % 2 == 0);
        assert_eq!(odd.len(), 10);
        assert!(odd.iter().all(|x| x % 2 == 1));
    }

    /// The picks are pinned: a change here changes which tasks a sampled experiment runs.
    #[test]
    fn picks_do_not_change() {
        assert_eq!(pick(1000, 5, 0, |_| false), PINNED);
    }

    const PINNED: [u64; 5] = [88, 126, 225, 314, 628];
}
