//! A small seeded generator (SplitMix64) for the random choices of Swarmgate's state machines.
//!
//! No pure core reaches for a global RNG: every random choice (tracker tier shuffles, BEP 15
//! transaction ids, piece-picking ties, optimistic unchokes) comes from a seed the caller passes
//! in, so a test or a simulation replays exactly. SplitMix64 (Steele, Lea and Flood, 2014) is
//! enough for that: one `u64` of state, full period, every seed valid. It is not cryptographic;
//! values that must be unpredictable (peer ids, tracker keys) come from the OS instead.

/// SplitMix64: a seeded, deterministic, non-cryptographic generator.
///
/// ```
/// use swarmgate_core::SplitMix64;
///
/// let mut order: Vec<u32> = (0..10).collect();
/// SplitMix64::new(7).shuffle(&mut order);
/// let mut again: Vec<u32> = (0..10).collect();
/// SplitMix64::new(7).shuffle(&mut again);
/// assert_eq!(order, again);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The next 32 random bits (the high half of [`next_u64`](Self::next_u64)).
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// A value in `0..bound`, by Lemire's multiply-shift (bias below 2^-32 for bounds under
    /// 2^32); 0 when `bound` is 0.
    pub fn below(&mut self, bound: usize) -> usize {
        ((u128::from(self.next_u64()) * bound as u128) >> 64) as usize
    }

    /// A Fisher-Yates shuffle of `items`.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SplitMix64;

    #[test]
    fn matches_the_reference_sequence() {
        // First outputs for seed 1234567 from the reference C implementation.
        let mut rng = SplitMix64::new(1234567);
        assert_eq!(rng.next_u64(), 6457827717110365317);
        assert_eq!(rng.next_u64(), 3203168211198807973);
    }

    #[test]
    fn shuffle_is_a_seeded_permutation_and_below_covers_its_range() {
        let mut a: Vec<u32> = (0..20).collect();
        let mut b = a.clone();
        SplitMix64::new(9).shuffle(&mut a);
        SplitMix64::new(9).shuffle(&mut b);
        assert_eq!(a, b);
        assert_ne!(a, (0..20).collect::<Vec<_>>());
        a.sort_unstable();
        assert_eq!(a, (0..20).collect::<Vec<_>>());
        let mut r = SplitMix64::new(3);
        let mut seen = [false; 7];
        for _ in 0..1000 {
            seen[r.below(7)] = true;
        }
        assert_eq!(seen, [true; 7]);
        assert_eq!(r.below(0), 0);
    }
}
