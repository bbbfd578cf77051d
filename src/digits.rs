//! Numbers written as text without `core::fmt`. Every response head carries a few (status,
//! length, the tag), every listing row several, and in the sandbox the formatting machinery was
//! a measurable share of a small request's time (`bench/profile.sh`).

/// The digits of one number, kept on the stack.
pub struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    /// `n` in decimal.
    pub fn decimal(n: u64) -> Digits {
        Digits::in_base::<10>(n)
    }

    /// `n` in lower-case hexadecimal.
    pub fn hex(n: u64) -> Digits {
        Digits::in_base::<16>(n)
    }

    /// The base is a constant, so that each division is a multiplication (a 64-bit division by
    /// a variable is slow, in wasm too: a listing's numbers had cost 6 % more).
    fn in_base<const BASE: u64>(mut n: u64) -> Digits {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut digits = Digits {
            buf: [b'0'; 20],
            start: 20,
        };
        loop {
            digits.start -= 1;
            digits.buf[digits.start] = DIGITS[(n % BASE) as usize];
            n /= BASE;
            if n == 0 {
                return digits;
            }
        }
    }

    /// The digits, without leading zeros.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits were written.
        std::str::from_utf8(&self.buf[self.start..]).unwrap_or("0")
    }
}

/// Appends `n` in decimal to `out`, with leading zeros to at least `width` digits.
pub fn push_padded(out: &mut String, n: u64, width: usize) {
    let digits = Digits::decimal(n);
    for _ in digits.as_str().len()..width {
        out.push('0');
    }
    out.push_str(digits.as_str());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_text_as_format() {
        for n in [0, 1, 9, 10, 255, 4096, 1_234_567_890, u64::MAX] {
            assert_eq!(Digits::decimal(n).as_str(), n.to_string());
            assert_eq!(Digits::hex(n).as_str(), format!("{n:x}"));
        }
        let mut padded = String::new();
        push_padded(&mut padded, 7, 3);
        push_padded(&mut padded, 12345, 2);
        assert_eq!(padded, "00712345");
    }
}
