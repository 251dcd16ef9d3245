//! Money: `rust_decimal::Decimal` in the API and the domain, integer cents in the database
//! (exact on both backends, and summable in SQL). Never a float.

use rust_decimal::Decimal;

/// The largest amount accepted: 10^12 − 0.01.
const MAX_CENTS: i64 = 100_000_000_000_000 - 1;

/// Converts an amount to cents, refusing negatives, sub-cent precision and absurd sizes.
pub fn to_cents(amount: Decimal) -> Result<i64, &'static str> {
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err("must not be negative");
    }
    let cents = amount * Decimal::ONE_HUNDRED;
    if cents.fract() != Decimal::ZERO {
        return Err("must have at most 2 decimal places");
    }
    let cents: i64 = cents.try_into().map_err(|_| "is too large")?;
    if cents > MAX_CENTS {
        return Err("is too large");
    }
    Ok(cents)
}

/// Converts stored cents back to an amount with two decimal places.
pub fn from_cents(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

/// Serializes an amount as an exact JSON number with its decimal places (`85.50`), never
/// through a float. Use with `#[serde(with = "money::json")]`.
pub mod json {
    use rust_decimal::Decimal;
    use serde::{Serialize, Serializer, ser::Error};
    use serde_json::value::RawValue;

    pub fn serialize<S: Serializer>(amount: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        RawValue::from_string(amount.to_string())
            .map_err(S::Error::custom)?
            .serialize(s)
    }
}

/// Serializes hours as an exact JSON number with exactly two decimal places (`1.00`, `0.00`,
/// `1.50`) wherever they appear, a sum or a zero included. Use with
/// `#[serde(with = "money::hours_json")]`.
pub mod hours_json {
    use rust_decimal::Decimal;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(hours: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        let mut hours = *hours;
        hours.rescale(2);
        super::json::serialize(&hours, s)
    }
}

/// [`json`] for optional amounts (`null` when absent).
pub mod json_option {
    use rust_decimal::Decimal;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(amount: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match amount {
            Some(amount) => super::json::serialize(amount, s),
            None => s.serialize_none(),
        }
    }
}

/// Parses an amount field: at most two decimal places, within range, `allow_negative` for
/// credits. Records a problem under `field` and answers `None` when it is invalid.
pub fn check(
    field: &str,
    amount: Decimal,
    allow_negative: bool,
    errors: &mut super::error::FieldErrors,
) -> Option<i64> {
    let result = if allow_negative && amount.is_sign_negative() {
        to_cents(-amount).map(|c| -c)
    } else {
        to_cents(amount)
    };
    result.map_err(|problem| errors.add(field, problem)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn hours_always_print_two_places() {
        #[derive(serde::Serialize)]
        struct Row {
            #[serde(with = "hours_json")]
            hours: Decimal,
        }
        for (value, text) in [
            (Decimal::ZERO, "0.00"),
            (Decimal::ONE, "1.00"),
            (d("1.5"), "1.50"),
            (d("85.50"), "85.50"),
        ] {
            let out = serde_json::to_string(&Row { hours: value }).unwrap();
            assert_eq!(out, format!("{{\"hours\":{text}}}"));
        }
    }

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn cents_are_exact() {
        assert_eq!(to_cents(d("85.50")), Ok(8550));
        assert_eq!(to_cents(d("0.1")), Ok(10));
        assert_eq!(from_cents(8550), d("85.50"));
        assert_eq!(from_cents(10) + from_cents(20), d("0.30"));
    }

    #[test]
    fn amounts_serialize_as_exact_json_numbers() {
        #[derive(serde::Serialize)]
        struct Line {
            #[serde(with = "json")]
            total: Decimal,
            #[serde(with = "json_option")]
            rate: Option<Decimal>,
        }
        let line = Line {
            total: from_cents(123_456_789_012_345),
            rate: None,
        };
        assert_eq!(
            serde_json::to_string(&line).unwrap(),
            r#"{"total":1234567890123.45,"rate":null}"#
        );
    }

    #[test]
    fn bad_amounts_are_refused() {
        assert!(to_cents(d("-1")).is_err());
        assert!(to_cents(d("1.005")).is_err());
        assert!(to_cents(d("1000000000000")).is_err());
    }
}
