//! The exact decimal arithmetic rotki's `FVal` does on underlying-token weights.

/// An exact decimal for rotki's `FVal` arithmetic on weights: `coef / 10^scale`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Decimal {
    coef: i128,
    scale: u32,
}

impl Decimal {
    pub(super) const ZERO: Decimal = Decimal { coef: 0, scale: 0 };
    pub(super) const ONE: Decimal = Decimal { coef: 1, scale: 0 };

    /// A plain decimal: digits, optionally a point and more digits; at most 30 digits.
    pub(super) fn parse(s: &str) -> Option<Decimal> {
        let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
        let digits = whole.len() + fraction.len();
        let plain = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if digits == 0 || digits > 30 || !plain(whole) || !plain(fraction) {
            return None;
        }
        let coef = format!("{whole}{fraction}").parse().ok()?;
        Some(Decimal { coef, scale: fraction.len() as u32 })
    }

    fn aligned(self, other: Decimal) -> Option<(i128, i128, u32)> {
        let scale = self.scale.max(other.scale);
        let up = |d: Decimal| d.coef.checked_mul(10i128.checked_pow(scale - d.scale)?);
        Some((up(self)?, up(other)?, scale))
    }

    pub(super) fn add(self, other: Decimal) -> Option<Decimal> {
        let (a, b, scale) = self.aligned(other)?;
        Some(Decimal { coef: a.checked_add(b)?, scale })
    }

    pub(super) fn sub(self, other: Decimal) -> Option<Decimal> {
        let (a, b, scale) = self.aligned(other)?;
        Some(Decimal { coef: a.checked_sub(b)?, scale })
    }

    pub(super) fn times_100(self) -> Option<Decimal> {
        Some(Decimal { coef: self.coef.checked_mul(100)?, scale: self.scale })
    }
}

/// `format(d.normalize(), 'f')` with `-0` as `0`: no exponent, no trailing zeros.
impl std::fmt::Display for Decimal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let digits = self.coef.unsigned_abs().to_string();
        let scale = self.scale as usize;
        let padded =
            if digits.len() <= scale { format!("{}{digits}", "0".repeat(scale - digits.len() + 1)) } else { digits };
        let (whole, fraction) = padded.split_at(padded.len() - scale);
        let fraction = fraction.trim_end_matches('0');
        let sign = if self.coef < 0 { "-" } else { "" };
        match fraction.is_empty() {
            true => write!(f, "{sign}{whole}"),
            false => write!(f, "{sign}{whole}.{fraction}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_print_like_fval() {
        let d = |s| Decimal::parse(s).unwrap();
        assert_eq!(d("0.50").times_100().unwrap().to_string(), "50");
        assert_eq!(Decimal::ONE.sub(d("1.0")).unwrap().to_string(), "0");
        assert_eq!(Decimal::ONE.sub(d("2")).unwrap().times_100().unwrap().to_string(), "-100");
        assert_eq!(d("0.0001234").times_100().unwrap().to_string(), "0.01234");
        assert!(Decimal::parse("1e5").is_none() && Decimal::parse("").is_none() && Decimal::parse("-1").is_none());
    }
}
