//! Money: Chinese yuan held as an integer number of fen (1 元 = 100 分). Never a float.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An amount in fen. Negative amounts are legal (refunds, ledger credits).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Fen(pub i64);

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub fn from_yuan(yuan: i64) -> Option<Fen> {
        yuan.checked_mul(100).map(Fen)
    }

    pub fn checked_add(self, other: Fen) -> Option<Fen> {
        self.0.checked_add(other.0).map(Fen)
    }

    pub fn checked_mul(self, n: i64) -> Option<Fen> {
        self.0.checked_mul(n).map(Fen)
    }

    /// `68.00`, `-0.05`: the amount in yuan with two decimals and no symbol.
    pub fn yuan_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl std::ops::Add for Fen {
    type Output = Fen;
    fn add(self, other: Fen) -> Fen {
        Fen(self.0 + other.0)
    }
}

impl std::ops::Sub for Fen {
    type Output = Fen;
    fn sub(self, other: Fen) -> Fen {
        Fen(self.0 - other.0)
    }
}

impl std::iter::Sum for Fen {
    fn sum<I: Iterator<Item = Fen>>(iter: I) -> Fen {
        Fen(iter.map(|f| f.0).sum())
    }
}

// Fen binds to and reads from an integer column, like the ids.
impl sqlx::Type<sqlx::Any> for Fen {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <i64 as sqlx::Type<sqlx::Any>>::type_info()
    }
    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <i64 as sqlx::Type<sqlx::Any>>::compatible(ty)
    }
}

impl<'q> sqlx::Encode<'q, sqlx::Any> for Fen {
    fn encode_by_ref(
        &self,
        buf: &mut <sqlx::Any as sqlx::Database>::ArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <i64 as sqlx::Encode<'q, sqlx::Any>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Any> for Fen {
    fn decode(
        value: <sqlx::Any as sqlx::Database>::ValueRef<'r>,
    ) -> Result<Self, sqlx::error::BoxDynError> {
        <i64 as sqlx::Decode<'r, sqlx::Any>>::decode(value).map(Fen)
    }
}

/// `¥68.00`
impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "¥{}", self.yuan_string())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("“{0}” is not an amount in yuan (write it like 68 or 68.50)")]
pub struct ParseFenError(String);

/// Parses an amount a person typed in yuan: `68`, `68.5`, `68.50`, `¥68`, `1,280.00`.
impl FromStr for Fen {
    type Err = ParseFenError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = || ParseFenError(input.to_owned());
        let s: String = input
            .trim()
            .trim_start_matches(['¥', '￥'])
            .chars()
            .filter(|c| *c != ',')
            .collect();
        let (negative, s) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.as_str()),
        };
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        if whole.is_empty() || frac.len() > 2 || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let whole: i64 = whole.parse().map_err(|_| err())?;
        let frac: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().map_err(|_| err())? * 10,
            _ => frac.parse().map_err(|_| err())?,
        };
        let fen = whole
            .checked_mul(100)
            .and_then(|w| w.checked_add(frac))
            .ok_or_else(err)?;
        Ok(Fen(if negative { -fen } else { fen }))
    }
}

/// Splits `total` into parts proportional to `weights` so that the parts add up to `total`
/// exactly (largest-remainder method; ties go to the earlier weight). All weights zero splits
/// evenly. Weights must be non-negative.
pub fn split_proportionally(total: Fen, weights: &[i64]) -> Vec<Fen> {
    if weights.is_empty() {
        return Vec::new();
    }
    let weights: Vec<i128> = if weights.iter().all(|w| *w == 0) {
        vec![1; weights.len()]
    } else {
        weights.iter().map(|w| i128::from((*w).max(0))).collect()
    };
    let sum: i128 = weights.iter().sum();
    let total_abs = i128::from(total.0).abs();
    let mut parts: Vec<i128> = weights.iter().map(|w| total_abs * w / sum).collect();
    let mut remainders: Vec<(usize, i128)> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| (i, total_abs * w % sum))
        .collect();
    remainders.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let short = total_abs - parts.iter().sum::<i128>();
    for (i, _) in remainders.into_iter().take(short as usize) {
        parts[i] += 1;
    }
    let sign = if total.0 < 0 { -1 } else { 1 };
    parts.into_iter().map(|p| Fen((p * sign) as i64)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn displays_yuan_with_two_decimals() {
        assert_eq!(Fen(6800).to_string(), "¥68.00");
        assert_eq!(Fen(5).to_string(), "¥0.05");
        assert_eq!(Fen(-1250).to_string(), "¥-12.50");
    }

    #[test]
    fn parses_what_people_type() {
        assert_eq!("68".parse(), Ok(Fen(6800)));
        assert_eq!("68.5".parse(), Ok(Fen(6850)));
        assert_eq!("¥1,280.00".parse(), Ok(Fen(128_000)));
        assert_eq!(" 0.05 ".parse(), Ok(Fen(5)));
        assert!("68.505".parse::<Fen>().is_err());
        assert!("六十八".parse::<Fen>().is_err());
        assert!("".parse::<Fen>().is_err());
        assert!("1e5".parse::<Fen>().is_err());
    }

    #[test]
    fn splits_add_up() {
        assert_eq!(
            split_proportionally(Fen(100), &[1, 1, 1]),
            vec![Fen(34), Fen(33), Fen(33)]
        );
        assert_eq!(
            split_proportionally(Fen(-7), &[0, 0]),
            vec![Fen(-4), Fen(-3)]
        );
    }

    proptest! {
        #[test]
        fn split_always_adds_up_to_the_total(
            total in -10_000_000_000i64..10_000_000_000,
            weights in prop::collection::vec(0i64..1_000_000, 1..20),
        ) {
            let parts = split_proportionally(Fen(total), &weights);
            prop_assert_eq!(parts.len(), weights.len());
            prop_assert_eq!(parts.iter().map(|p| p.0).sum::<i64>(), total);
            // No part is off from its exact share by a whole fen or more.
            let sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
            if sum > 0 {
                for (p, w) in parts.iter().zip(&weights) {
                    let exact = i128::from(total) * i128::from(*w);
                    prop_assert!((i128::from(p.0) * sum - exact).abs() < sum);
                }
            }
        }

        #[test]
        fn display_and_parse_round_trip(fen in -1_000_000_000i64..1_000_000_000) {
            let shown = Fen(fen).yuan_string();
            prop_assert_eq!(shown.parse::<Fen>(), Ok(Fen(fen)));
        }
    }
}
