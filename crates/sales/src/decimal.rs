//! Exact decimals for exchange rates, commission rates and dispute fractions: at most 12
//! places, held as an integer count of 10⁻¹² units, so that every product is exact and every
//! rounding is the spec's (half to even) and nothing else.

use std::fmt;
use std::str::FromStr;

/// The number of decimal places a [`Dec`] holds.
pub const PLACES: u32 = 12;
const ONE: i128 = 1_000_000_000_000;

/// An exact decimal with at most [`PLACES`] places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Dec(i128);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecError {
    #[error("is not a decimal number (digits, one optional point)")]
    Syntax,
    #[error("has more than 12 decimal places")]
    TooPrecise,
    #[error("is too large")]
    TooLarge,
}

impl Dec {
    pub const ZERO: Dec = Dec(0);
    pub const ONE: Dec = Dec(ONE);

    /// The decimal `units × 10⁻¹²`.
    pub const fn from_units(units: i128) -> Self {
        Dec(units)
    }

    pub const fn units(self) -> i128 {
        self.0
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// `amount × self`, rounded half to even to a whole unit.
    pub fn mul_round(self, amount: i64) -> i64 {
        clamp(round_half_even(i128::from(amount) * self.0, ONE))
    }

    /// `amount × self`, rounded down (towards −∞) to a whole unit.
    pub fn mul_floor(self, amount: i64) -> i64 {
        clamp((i128::from(amount) * self.0).div_euclid(ONE))
    }
}

fn clamp(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// `n / d` rounded half to even (`d > 0`), for negative `n` too.
pub fn round_half_even(n: i128, d: i128) -> i128 {
    debug_assert!(d > 0);
    let q = n.div_euclid(d);
    let r = n.rem_euclid(d);
    match (2 * r).cmp(&d) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => {
            if q % 2 == 0 {
                q
            } else {
                q + 1
            }
        }
    }
}

/// `Σ rateᵢ × amountᵢ` rounded half to even to a whole unit: the commission's formula, with a
/// single rounding at the end.
pub fn weighted_sum_round(terms: &[(Dec, i64)]) -> i64 {
    let total: i128 = terms.iter().map(|(r, a)| r.0 * i128::from(*a)).sum();
    clamp(round_half_even(total, ONE))
}

impl FromStr for Dec {
    type Err = DecError;

    fn from_str(s: &str) -> Result<Self, DecError> {
        let (neg, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
            return Err(DecError::Syntax);
        }
        if body.ends_with('.') && frac.is_empty() && int.is_empty() {
            return Err(DecError::Syntax);
        }
        let frac = frac.trim_end_matches('0');
        if frac.len() > PLACES as usize {
            return Err(DecError::TooPrecise);
        }
        let int = int.trim_start_matches('0');
        if int.len() > 20 {
            return Err(DecError::TooLarge);
        }
        let int_units: i128 = if int.is_empty() {
            0
        } else {
            int.parse::<i128>().map_err(|_| DecError::TooLarge)?
        };
        let mut frac_units: i128 = 0;
        for (i, b) in frac.bytes().enumerate() {
            frac_units += i128::from(b - b'0') * 10i128.pow(PLACES - 1 - i as u32);
        }
        let units = int_units
            .checked_mul(ONE)
            .and_then(|v| v.checked_add(frac_units))
            .ok_or(DecError::TooLarge)?;
        Ok(Dec(if neg { -units } else { units }))
    }
}

impl fmt::Display for Dec {
    /// The shortest exact form: `7.8125`, `1`, `0.02`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let int = abs / ONE as u128;
        let frac = abs % ONE as u128;
        if frac == 0 {
            write!(f, "{sign}{int}")
        } else {
            let digits = format!("{frac:012}");
            write!(f, "{sign}{int}.{}", digits.trim_end_matches('0'))
        }
    }
}

impl serde::Serialize for Dec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Dec {
        s.parse().expect("decimal")
    }

    #[test]
    fn parses_and_prints_exactly() {
        assert_eq!(d("7.8125").to_string(), "7.8125");
        assert_eq!(d("0.02").to_string(), "0.02");
        assert_eq!(d("1").to_string(), "1");
        assert_eq!(d("1.000").to_string(), "1");
        assert_eq!(d(".5").to_string(), "0.5");
        assert_eq!(d("-0.25").to_string(), "-0.25");
        assert_eq!(d("0.000000000001").units(), 1);
        assert_eq!("0.0000000000001".parse::<Dec>(), Err(DecError::TooPrecise));
        assert_eq!(
            "0.10000000000000".parse::<Dec>().map(|x| x.units()),
            Ok(ONE / 10)
        );
        for bad in ["", ".", "1.2.3", "abc", "1e3", " 1", "1,5", "--1"] {
            assert_eq!(bad.parse::<Dec>(), Err(DecError::Syntax), "{bad:?}");
        }
    }

    #[test]
    fn rounds_half_to_even_on_both_sides_of_zero() {
        assert_eq!(round_half_even(5, 2), 2); // 2.5 → 2
        assert_eq!(round_half_even(7, 2), 4); // 3.5 → 4
        assert_eq!(round_half_even(-5, 2), -2); // −2.5 → −2
        assert_eq!(round_half_even(-7, 2), -4); // −3.5 → −4
        assert_eq!(round_half_even(-6, 4), -2); // −1.5 → −2
        assert_eq!(round_half_even(11, 4), 3); // 2.75 → 3
        assert_eq!(round_half_even(-11, 4), -3);
        assert_eq!(round_half_even(9, 4), 2); // 2.25 → 2
    }

    #[test]
    fn products_are_exact() {
        // 3,250,000 × 7.8125 = 25,390,625 exactly.
        assert_eq!(d("7.8125").mul_round(3_250_000), 25_390_625);
        // 1 × 0.5 = 0.5 → 0 (even); 3 × 0.5 = 1.5 → 2.
        assert_eq!(d("0.5").mul_round(1), 0);
        assert_eq!(d("0.5").mul_round(3), 2);
        assert_eq!(d("0.5").mul_round(-3), -2);
        assert_eq!(d("0.333333333333").mul_floor(100), 33);
        assert_eq!(
            weighted_sum_round(&[(d("0.02"), 125), (d("0.01"), 25)]),
            3 // 2.5 + 0.25 = 2.75 → 3
        );
        assert_eq!(weighted_sum_round(&[(d("0.02"), 125)]), 2); // 2.5 → 2
        assert_eq!(weighted_sum_round(&[(d("0.02"), -125)]), -2);
    }
}
