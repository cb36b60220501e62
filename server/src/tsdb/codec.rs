//! The compressed chunk format (Gorilla, as Prometheus' TSDB and Facebook's Gorilla use it):
//! timestamps as delta-of-delta in variable bit widths, values as the XOR with the previous
//! value. Regular scrapes cost about one bit per timestamp; slowly changing values a few bits.
//!
//! Layout: sample count (u32, big endian), then the bit stream: first timestamp (64 bits),
//! first value (64 bits), then per sample a timestamp code and a value code.

/// Appends bits, most significant first.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    used: u8,
}

impl BitWriter {
    fn bit(&mut self, bit: bool) {
        if self.used == 0 {
            self.bytes.push(0);
        }
        if bit {
            *self.bytes.last_mut().expect("pushed above") |= 0x80 >> self.used;
        }
        self.used = (self.used + 1) % 8;
    }

    /// Writes the low `n` bits of `value`.
    fn bits(&mut self, value: u64, n: u32) {
        for i in (0..n).rev() {
            self.bit((value >> i) & 1 == 1);
        }
    }
}

struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    fn bit(&mut self) -> Option<bool> {
        self.bits(1).map(|b| b == 1)
    }

    /// Reads `n` bits (at most 64) as one number, a word at a time.
    fn bits(&mut self, n: u32) -> Option<u64> {
        if n == 0 {
            return Some(0);
        }
        if n > 56 {
            let high = self.bits(n - 32)?;
            let low = self.bits(32)?;
            return Some((high << 32) | low);
        }
        if self.pos + n as usize > self.bytes.len() * 8 {
            return None;
        }
        let byte = self.pos / 8;
        let mut word = [0u8; 8];
        let available = (self.bytes.len() - byte).min(8);
        word[..available].copy_from_slice(&self.bytes[byte..byte + available]);
        let shift = (self.pos % 8) as u32;
        self.pos += n as usize;
        Some((u64::from_be_bytes(word) << shift) >> (64 - n))
    }
}

/// Delta-of-delta classes: (prefix bits, prefix length, payload bits).
const DOD_CLASSES: [(u64, u32, u32); 4] = [
    (0b10, 2, 7),
    (0b110, 3, 9),
    (0b1110, 4, 12),
    (0b11110, 5, 32),
];

fn fits(v: i64, bits: u32) -> bool {
    let half = 1i64 << (bits - 1);
    (-half..half).contains(&v)
}

/// Encodes samples (milliseconds, value) in time order.
pub fn encode(samples: &[(i64, f64)]) -> Vec<u8> {
    let mut w = BitWriter::default();
    w.bytes
        .extend_from_slice(&(samples.len() as u32).to_be_bytes());
    let Some(&(t0, v0)) = samples.first() else {
        return w.bytes;
    };
    w.bits(t0 as u64, 64);
    w.bits(v0.to_bits(), 64);
    let (mut prev_t, mut prev_delta) = (t0, 0i64);
    let mut prev_v = v0.to_bits();
    let (mut lead, mut trail) = (u32::MAX, 0u32);
    for &(t, v) in &samples[1..] {
        let delta = t - prev_t;
        let dod = delta - prev_delta;
        if dod == 0 {
            w.bit(false);
        } else if let Some(&(prefix, len, bits)) = DOD_CLASSES.iter().find(|c| fits(dod, c.2)) {
            w.bits(prefix, len);
            w.bits(dod as u64 & ((1u64 << bits) - 1), bits);
        } else {
            w.bits(0b11111, 5);
            w.bits(dod as u64, 64);
        }
        prev_t = t;
        prev_delta = delta;

        let v = v.to_bits();
        let x = v ^ prev_v;
        prev_v = v;
        if x == 0 {
            w.bit(false);
            continue;
        }
        w.bit(true);
        let l = x.leading_zeros().min(31);
        let t = x.trailing_zeros();
        if lead != u32::MAX && l >= lead && t >= trail {
            // Fits the previous window: its bits only.
            w.bit(false);
            w.bits(x >> trail, 64 - lead - trail);
        } else {
            lead = l;
            trail = t;
            let significant = 64 - l - t;
            w.bit(true);
            w.bits(u64::from(l), 5);
            // 64 significant bits are written as 0, which can never mean a length of zero.
            w.bits(u64::from(significant & 63), 6);
            w.bits(x >> t, significant);
        }
    }
    w.bytes
}

/// Decodes a chunk; `None` if it is damaged.
pub fn decode(bytes: &[u8]) -> Option<Vec<(i64, f64)>> {
    let count = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let mut out = Vec::with_capacity(count);
    if count == 0 {
        return Some(out);
    }
    let mut r = BitReader {
        bytes: &bytes[4..],
        pos: 0,
    };
    let t0 = r.bits(64)? as i64;
    let v0 = r.bits(64)?;
    out.push((t0, f64::from_bits(v0)));
    let (mut prev_t, mut prev_delta, mut prev_v) = (t0, 0i64, v0);
    let (mut lead, mut trail) = (0u32, 0u32);
    for _ in 1..count {
        // Timestamp.
        let mut ones = 0;
        while ones < 5 && r.bit()? {
            ones += 1;
        }
        let dod = match ones {
            0 => 0,
            1..=4 => {
                let bits = DOD_CLASSES[ones - 1].2;
                let raw = r.bits(bits)?;
                // Sign-extend.
                ((raw << (64 - bits)) as i64) >> (64 - bits)
            }
            _ => r.bits(64)? as i64,
        };
        let delta = prev_delta + dod;
        let t = prev_t + delta;
        prev_t = t;
        prev_delta = delta;
        // Value.
        if r.bit()? {
            if r.bit()? {
                lead = r.bits(5)? as u32;
                let significant = match r.bits(6)? as u32 {
                    0 => 64,
                    n => n,
                };
                trail = 64 - lead - significant;
            }
            let significant = 64 - lead - trail;
            let bits = r.bits(significant)?;
            prev_v ^= bits << trail;
        }
        out.push((t, f64::from_bits(prev_v)));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(samples: &[(i64, f64)]) -> usize {
        let bytes = encode(samples);
        let back = decode(&bytes).expect("decodes");
        assert_eq!(back.len(), samples.len());
        for (a, b) in samples.iter().zip(&back) {
            assert_eq!(a.0, b.0);
            assert_eq!(a.1.to_bits(), b.1.to_bits(), "{a:?} vs {b:?}");
        }
        bytes.len()
    }

    #[test]
    fn regular_counters_cost_a_few_bits_per_sample() {
        let samples: Vec<(i64, f64)> = (0..480)
            .map(|i| (1_700_000_000_000 + i * 15_000, (i * 3) as f64))
            .collect();
        let size = round_trip(&samples);
        assert!(size < 480 * 3, "{size} bytes for 480 samples");
        let constant: Vec<(i64, f64)> = (0..480).map(|i| (i * 15_000, 1.0)).collect();
        assert!(round_trip(&constant) < 160, "two bits a sample");
    }

    #[test]
    fn irregular_times_and_special_values_survive() {
        let stale = f64::from_bits(0x7ff0_0000_0000_0002);
        let samples = vec![
            (-5, 0.0),
            (0, -1.5),
            (1, f64::INFINITY),
            (1_000_000_000, stale),
            (1_000_000_001, f64::NEG_INFINITY),
            (1_000_000_017, 1e-300),
            (1_000_000_020, f64::NAN),
            (3_000_000_000_000, 123_456.789),
            (3_000_000_000_001, f64::MIN_POSITIVE),
            (3_000_000_000_002, -0.0),
        ];
        round_trip(&samples);
        round_trip(&[]);
        round_trip(&[(7, 7.0)]);
    }

    #[test]
    fn random_walks_round_trip() {
        let mut x = 0x1234_5678_u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut t = 0i64;
        let mut v = 0.0f64;
        let samples: Vec<(i64, f64)> = (0..5000)
            .map(|_| {
                t += 1 + (next() % 30_000) as i64;
                v += (next() % 1000) as f64 / 7.0 - 70.0;
                (t, v)
            })
            .collect();
        round_trip(&samples);
    }

    #[test]
    fn damaged_chunks_are_refused() {
        let bytes = encode(&[(1, 1.0), (2, 2.0), (3, 4.0)]);
        assert_eq!(decode(&bytes[..bytes.len() - 3]), None);
        assert_eq!(decode(&[0, 0]), None);
    }
}
