//! Prints the info-hashes that aquatic_udp_load_test 0.9 announces and scrapes, as lower-case hex,
//! one a line, so that benches/scripts/tracker_udp_vs_aquatic.sh can allow exactly those on every
//! tracker (Debian's opentracker is built whitelist-only).
//!
//!     rustc -O --edition 2021 -o aquatic_info_hashes aquatic_info_hashes.rs
//!     aquatic_info_hashes NUMBER_OF_TORRENTS > whitelist
//!
//! The load test (its `InfoHashDist::new`) draws `number_of_torrents` hashes of 20 bytes, each byte
//! `rng.gen::<u8>()`, from `SmallRng::seed_from_u64(0xc3aa8be617b3acce)`. With rand 0.8 on a 64-bit
//! machine SmallRng is Xoshiro256PlusPlus, seeded through rand_core 0.6's default `seed_from_u64`
//! (PCG32 fills the seed: SmallRng does not forward to Xoshiro's own SplitMix64 seeding), and
//! `gen::<u8>()` is `next_u32() as u8`, where `next_u32()` is `(next_u64() >> 32) as u32`. A
//! mismatch shows in the benchmark as error responses (the trackers reject unknown hashes), which
//! fails the script.
//!
//! Plain std, no crates: the script compiles it with rustc alone.

use std::io::{BufWriter, Write};

struct Xoshiro256PlusPlus {
    s: [u64; 4],
}

impl Xoshiro256PlusPlus {
    /// `SmallRng::seed_from_u64`: SmallRng does not override rand_core 0.6's default, which fills
    /// the 32-byte seed with PCG32 outputs (little-endian), read back as four little-endian u64.
    fn seed_from_u64(mut state: u64) -> Self {
        const MUL: u64 = 6_364_136_223_846_793_005;
        const INC: u64 = 11_634_580_027_462_260_723;
        let mut seed = [0u8; 32];
        for chunk in seed.chunks_exact_mut(4) {
            state = state.wrapping_mul(MUL).wrapping_add(INC);
            let xorshifted = (((state >> 18) ^ state) >> 27) as u32;
            let rot = (state >> 59) as u32;
            chunk.copy_from_slice(&xorshifted.rotate_right(rot).to_le_bytes());
        }
        let mut s = [0u64; 4];
        for (word, bytes) in s.iter_mut().zip(seed.chunks_exact(8)) {
            let mut le = [0u8; 8];
            le.copy_from_slice(bytes);
            *word = u64::from_le_bytes(le);
        }
        Self { s }
    }

    fn next_u64(&mut self) -> u64 {
        let result = self.s[0]
            .wrapping_add(self.s[3])
            .rotate_left(23)
            .wrapping_add(self.s[0]);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    fn next_u8(&mut self) -> u8 {
        (self.next_u64() >> 32) as u8
    }
}

fn main() {
    let count: usize = match std::env::args().nth(1).map(|arg| arg.parse()) {
        Some(Ok(count)) => count,
        _ => {
            eprintln!("usage: aquatic_info_hashes NUMBER_OF_TORRENTS");
            std::process::exit(2);
        }
    };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0xc3aa_8be6_17b3_acce);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut line = [0u8; 41];
    line[40] = b'\n';
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for _ in 0..count {
        for i in 0..20 {
            let byte = rng.next_u8();
            line[2 * i] = HEX[usize::from(byte >> 4)];
            line[2 * i + 1] = HEX[usize::from(byte & 15)];
        }
        if out.write_all(&line).is_err() {
            std::process::exit(1);
        }
    }
    if out.flush().is_err() {
        std::process::exit(1);
    }
}
