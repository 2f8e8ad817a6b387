//! 共有份额: shares of a 按份共有 right as exact fractions. Written "1/3", "0.5" or "50%" on
//! input; held as a reduced fraction, so three holders of "1/3" sum to exactly 1.

use std::fmt;

use num_rational::Ratio;
use num_traits::{CheckedAdd, One, Zero};

/// The largest denominator accepted (a share finer than one millionth is a typing error).
const MAX_DENOMINATOR: u64 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Share(Ratio<u64>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    #[error("份额「{0}」格式错误：应写作分数（1/3）、小数（0.5）或百分数（50%）")]
    Format(String),
    #[error("份额「{0}」应大于0且不超过1")]
    Range(String),
    #[error("份额合计为{0}，按份共有的份额合计应为1")]
    Sum(String),
}

impl Share {
    pub fn whole() -> Self {
        Share(Ratio::one())
    }

    pub fn parse(text: &str) -> Result<Self, ShareError> {
        let t = text.trim();
        let bad = || ShareError::Format(t.to_owned());
        let ratio = if let Some((n, d)) = t.split_once('/') {
            let n: u64 = n.trim().parse().map_err(|_| bad())?;
            let d: u64 = d.trim().parse().map_err(|_| bad())?;
            if d == 0 || d > MAX_DENOMINATOR {
                return Err(bad());
            }
            Ratio::new(n, d)
        } else if let Some(p) = t.strip_suffix('%') {
            decimal(p.trim()).ok_or_else(bad)? / Ratio::from_integer(100)
        } else {
            decimal(t).ok_or_else(bad)?
        };
        if ratio.is_zero() || ratio > Ratio::one() {
            return Err(ShareError::Range(t.to_owned()));
        }
        Ok(Share(ratio))
    }

    pub fn is_whole(self) -> bool {
        self.0.is_one()
    }
}

/// "0.125" → 1/8: at most six decimal places.
fn decimal(t: &str) -> Option<Ratio<u64>> {
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    if int.is_empty() && frac.is_empty() || frac.len() > 6 {
        return None;
    }
    if !int.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let int: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let scale = 10u64.pow(frac.len() as u32);
    let frac: u64 = if frac.is_empty() { 0 } else { frac.parse().ok()? };
    Some(Ratio::new(int.checked_mul(scale)?.checked_add(frac)?, scale))
}

impl fmt::Display for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_one() { f.write_str("1") } else { write!(f, "{}/{}", self.0.numer(), self.0.denom()) }
    }
}

/// The shares of a 按份共有 right must sum to exactly 1.
pub fn check_sum(shares: &[Share]) -> Result<(), ShareError> {
    let mut sum = Ratio::<u64>::zero();
    for s in shares {
        sum = sum.checked_add(&s.0).ok_or_else(|| ShareError::Sum("超出可计算范围".into()))?;
    }
    if sum.is_one() { Ok(()) } else { Err(ShareError::Sum(format!("{}/{}", sum.numer(), sum.denom()))) }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn forms_parse_to_the_same_fraction() {
        assert_eq!(Share::parse("1/2"), Share::parse("0.5"));
        assert_eq!(Share::parse("50%"), Share::parse("2/4"));
        assert_eq!(Share::parse(" 1 ").map(|s| s.is_whole()), Ok(true));
        assert_eq!(Share::parse("0.125").map(|s| s.to_string()), Ok("1/8".into()));
    }

    #[test]
    fn thirds_sum_exactly() {
        let third = Share::parse("1/3").unwrap();
        assert_eq!(check_sum(&[third, third, third]), Ok(()));
        // Decimal thirds do not make a whole: the register refuses rather than rounds.
        let approx = Share::parse("0.333333").unwrap();
        assert!(matches!(check_sum(&[approx, approx, approx]), Err(ShareError::Sum(_))));
    }

    #[test]
    fn refusals() {
        for bad in ["", "abc", "1/0", "-0.5", "0.1234567", "1/2000000", "１/２", ".", "1e-1"] {
            assert!(Share::parse(bad).is_err(), "{bad}");
        }
        assert!(matches!(Share::parse("0"), Err(ShareError::Range(_))));
        assert!(matches!(Share::parse("3/2"), Err(ShareError::Range(_))));
        assert!(matches!(Share::parse("120%"), Err(ShareError::Range(_))));
        assert!(check_sum(&[Share::parse("0.5").unwrap(), Share::parse("0.6").unwrap()]).is_err());
    }
}
