//! G.711 µ-law and A-law, as in the ITU-T reference (Sun's g711.c).
//!
//! 16-bit linear PCM in, one byte per sample out; decoding returns the
//! 16-bit value at the centre of each quantisation step. Tested against
//! vectors from an independent implementation (CPython's `audioop`).

const SEG_UEND: [i32; 8] = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF];
const SEG_AEND: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];
const BIAS: i32 = 0x84;
const CLIP: i32 = 8159;

fn segment(value: i32, table: &[i32; 8]) -> usize {
    table.iter().position(|&end| value <= end).unwrap_or(8)
}

/// One 16-bit sample to µ-law.
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let mut v = i32::from(sample) >> 2;
    let mask: i32 = if v < 0 {
        v = -v;
        0x7F
    } else {
        0xFF
    };
    v = v.min(CLIP) + (BIAS >> 2);
    let seg = segment(v, &SEG_UEND);
    if seg >= 8 {
        return (0x7F ^ mask) as u8;
    }
    let u = ((seg as i32) << 4) | ((v >> (seg + 1)) & 0xF);
    (u ^ mask) as u8
}

/// One µ-law byte to a 16-bit sample.
pub fn ulaw_to_linear(byte: u8) -> i16 {
    let u = !byte;
    let mut t = ((i32::from(u) & 0x0F) << 3) + BIAS;
    t <<= (u & 0x70) >> 4;
    (if u & 0x80 != 0 { BIAS - t } else { t - BIAS }) as i16
}

/// One 16-bit sample to A-law.
pub fn linear_to_alaw(sample: i16) -> u8 {
    let mut v = i32::from(sample) >> 3;
    let mask: i32 = if v >= 0 {
        0xD5
    } else {
        v = -v - 1;
        0x55
    };
    let seg = segment(v, &SEG_AEND);
    if seg >= 8 {
        return (0x7F ^ mask) as u8;
    }
    let mut a = (seg as i32) << 4;
    a |= if seg < 2 { (v >> 1) & 0x0F } else { (v >> seg) & 0x0F };
    (a ^ mask) as u8
}

/// One A-law byte to a 16-bit sample.
pub fn alaw_to_linear(byte: u8) -> i16 {
    let a = i32::from(byte ^ 0x55);
    let mut t = (a & 0x0F) << 4;
    let seg = (a & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

pub fn encode_ulaw(samples: &[i16]) -> Vec<u8> {
    samples.iter().map(|&s| linear_to_ulaw(s)).collect()
}
pub fn decode_ulaw(bytes: &[u8]) -> Vec<i16> {
    bytes.iter().map(|&b| ulaw_to_linear(b)).collect()
}
pub fn encode_alaw(samples: &[i16]) -> Vec<u8> {
    samples.iter().map(|&s| linear_to_alaw(s)).collect()
}
pub fn decode_alaw(bytes: &[u8]) -> Vec<i16> {
    bytes.iter().map(|&b| alaw_to_linear(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors from CPython's audioop (lin2ulaw/ulaw2lin/lin2alaw/alaw2lin, width 2).
    const ENC: [(i16, u8, u8); 13] = [
        (0, 0xff, 0xd5),
        (1, 0xff, 0xd5),
        (-1, 0x7e, 0x55),
        (100, 0xf2, 0xd3),
        (-100, 0x72, 0x53),
        (1000, 0xce, 0xfa),
        (-1000, 0x4e, 0x7a),
        (8159, 0x9f, 0x8a),
        (-8159, 0x1f, 0x0a),
        (32767, 0x80, 0xaa),
        (-32768, 0x00, 0x2a),
        (12345, 0x97, 0xbd),
        (-4321, 0x2e, 0x05),
    ];

    #[test]
    fn encodes_known_vectors() {
        for (x, u, a) in ENC {
            assert_eq!(linear_to_ulaw(x), u, "ulaw({x})");
            assert_eq!(linear_to_alaw(x), a, "alaw({x})");
        }
    }

    #[test]
    fn decodes_known_vectors() {
        let ulaw = [
            (0x00, -32124),
            (0x0F, -16764),
            (0x7F, 0),
            (0x80, 32124),
            (0xFF, 0),
            (0xEA, 212),
            (0x55, -716),
        ];
        for (b, x) in ulaw {
            assert_eq!(ulaw_to_linear(b), x, "ulaw byte {b:#x}");
        }
        let alaw = [(0x00, -5504), (0x55, -8), (0xD5, 8), (0xAA, 32256), (0x2A, -32256), (0x80, 5504)];
        for (b, x) in alaw {
            assert_eq!(alaw_to_linear(b), x, "alaw byte {b:#x}");
        }
    }

    #[test]
    fn every_code_survives_a_round_trip() {
        for b in 0..=255u8 {
            // µ-law has two zeros (0x7F and 0xFF); both decode to 0, which encodes as 0xFF.
            let x = ulaw_to_linear(b);
            assert_eq!(ulaw_to_linear(linear_to_ulaw(x)), x, "ulaw {b:#x}");
            let y = alaw_to_linear(b);
            assert_eq!(linear_to_alaw(y), b, "alaw {b:#x}");
        }
    }

    #[test]
    fn error_is_bounded_by_the_step_size() {
        for x in (i16::MIN..=i16::MAX).step_by(7) {
            let e = (i32::from(ulaw_to_linear(linear_to_ulaw(x))) - i32::from(x)).abs();
            // Steps double per segment; the largest is 1024 (±512 error), plus clipping above 32124.
            assert!(e <= 1024, "ulaw error {e} at {x}");
            let e = (i32::from(alaw_to_linear(linear_to_alaw(x))) - i32::from(x)).abs();
            assert!(e <= 1024, "alaw error {e} at {x}");
        }
    }
}
