//! Lowercase hex, the one spelling of bytes Pandora writes (digests, keys, fingerprints).

/// Decodes exactly `N` bytes of hex (either case).
pub fn decode<const N: usize>(hex: &str) -> Option<[u8; N]> {
    if hex.len() != N * 2 {
        return None;
    }
    let mut bytes = [0u8; N];
    for (byte, pair) in bytes.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(bytes)
}

fn nibble(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Lowercase hex of any bytes.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let bytes = bytes.as_ref();
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(DIGITS[usize::from(byte >> 4)] as char);
        text.push(DIGITS[usize::from(byte & 15)] as char);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses() {
        assert_eq!(decode::<2>("0aff"), Some([0x0a, 0xff]));
        assert_eq!(decode::<2>("0af"), None);
        assert_eq!(decode::<1>("zz"), None);
        assert_eq!(decode::<1>("+f"), None);
        assert_eq!(decode::<1>("é"), None);
        assert_eq!(decode::<1>("Af"), Some([0xaf]));
        assert_eq!(encode([0, 255, 16]), "00ff10");
    }
}
