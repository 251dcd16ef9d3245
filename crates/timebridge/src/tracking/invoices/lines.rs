//! Lines of invoices and quotes, and the totals computed from them. Everything is exact:
//! quantities are ten-thousandths, prices and amounts cents, tax rates hundredths of a
//! percent, and each rounding (a line's amount, the tax) is half-up to the cent.

use std::collections::HashSet;

use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    platform::{
        error::{ApiError, FieldErrors},
        money,
        validate::required_text,
    },
    tracking::projects::entity as project,
};

/// The most lines one invoice or quote may have.
pub const MAX_LINES: usize = 500;
/// The largest quantity of a line.
const MAX_QUANTITY_E4: i64 = 1_000_000 * 10_000;
/// The largest amount (line, subtotal or total), as for any money: 10^12 − 0.01.
const MAX_CENTS: i128 = 100_000_000_000_000 - 1;

/// A line as a request sends it.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct LineInput {
    /// 1 to 2000 characters (trimmed; not only spaces).
    #[schema(
        example = "Design work",
        min_length = 1,
        max_length = 2000,
        pattern = "\\S"
    )]
    pub description: String,
    /// Greater than 0, at most 1000000, at most 4 decimal places (hours to the 0.36 s).
    /// Default 1.
    #[serde(default = "one")]
    #[schema(value_type = f64, example = 1.5, exclusive_minimum = 0, maximum = 1000000)]
    pub quantity: Decimal,
    /// Non-negative, at most 2 decimal places, below 10^12. Default 0. The line's amount
    /// (quantity × unit price, half-up to the cent) must stay below 10^12 too.
    #[serde(default)]
    #[schema(value_type = f64, example = 100.0, minimum = 0, maximum = 999999999999.99)]
    pub unit_price: Decimal,
    /// A project of this workspace the line is for.
    pub project_id: Option<Uuid>,
}

fn one() -> Decimal {
    Decimal::ONE
}

/// A checked line, ready to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub description: String,
    pub quantity_e4: i64,
    pub unit_price_cents: i64,
    pub amount_cents: i64,
    pub project_id: Option<Uuid>,
}

impl Line {
    /// A line whose amount is quantity × unit price, rounded half-up to the cent.
    pub fn new(
        description: String,
        quantity_e4: i64,
        unit_price_cents: i64,
        project_id: Option<Uuid>,
    ) -> Self {
        Self {
            description,
            quantity_e4,
            unit_price_cents,
            amount_cents: amount_cents(quantity_e4, unit_price_cents),
            project_id,
        }
    }
}

/// A line as the API shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LineView {
    pub id: Uuid,
    pub description: String,
    #[serde(with = "money::json")]
    #[schema(value_type = f64, example = 1.5)]
    pub quantity: Decimal,
    #[serde(with = "money::json")]
    #[schema(value_type = f64, example = 100.0)]
    pub unit_price: Decimal,
    /// Quantity × unit price, rounded half-up to the cent.
    #[serde(with = "money::json")]
    #[schema(value_type = f64, example = 150.0)]
    pub total_amount: Decimal,
    pub project_id: Option<Uuid>,
}

impl LineView {
    /// The view of a stored line.
    pub fn new(id: Uuid, line: Line) -> Self {
        Self {
            id,
            description: line.description,
            quantity: quantity_from_e4(line.quantity_e4),
            unit_price: money::from_cents(line.unit_price_cents),
            total_amount: money::from_cents(line.amount_cents),
            project_id: line.project_id,
        }
    }
}

/// `quantity × unit_price`, half-up to the cent.
pub fn amount_cents(quantity_e4: i64, unit_price_cents: i64) -> i64 {
    let exact = i128::from(quantity_e4) * i128::from(unit_price_cents);
    clamp_cents(round_half_up(exact, 10_000))
}

/// `n / d` rounded half away from zero (`d > 0`).
fn round_half_up(n: i128, d: i128) -> i128 {
    let half = d / 2;
    if n >= 0 {
        (n + half) / d
    } else {
        (n - half) / d
    }
}

/// Within the i64 range; amounts that large are refused by [`Totals::check`] anyway.
fn clamp_cents(cents: i128) -> i64 {
    i64::try_from(cents).unwrap_or(if cents < 0 { i64::MIN } else { i64::MAX })
}

/// Quantity in ten-thousandths, refusing zero, negatives and more than 4 decimal places.
pub fn quantity_to_e4(quantity: Decimal) -> Result<i64, &'static str> {
    if quantity <= Decimal::ZERO {
        return Err("must be greater than 0");
    }
    let scaled = quantity * Decimal::from(10_000);
    if scaled.fract() != Decimal::ZERO {
        return Err("must have at most 4 decimal places");
    }
    match i64::try_from(scaled) {
        Ok(e4) if e4 <= MAX_QUANTITY_E4 => Ok(e4),
        _ => Err("must be at most 1000000"),
    }
}

/// Seconds as hundredths of an hour, half-up (5400 s → 150, 18 s → 1). Negative counts as 0.
pub fn hundredths_of_hours(seconds: i64) -> i64 {
    let seconds = i128::from(seconds.max(0));
    clamp_cents(round_half_up(seconds * 100, 3600))
}

/// Seconds as hours with two decimals, half-up.
pub fn hours_2dp(seconds: i64) -> Decimal {
    Decimal::new(hundredths_of_hours(seconds), 2)
}

/// A stored quantity as a decimal without trailing zeros (`1.5`, `3`).
pub fn quantity_from_e4(e4: i64) -> Decimal {
    Decimal::new(e4, 4).normalize()
}

/// A tax rate in percent (0–100, at most 2 decimal places) as hundredths of a percent.
pub fn tax_rate_to_bp(rate: Decimal) -> Result<i64, &'static str> {
    if rate < Decimal::ZERO || rate > Decimal::ONE_HUNDRED {
        return Err("must be between 0 and 100");
    }
    let scaled = rate * Decimal::ONE_HUNDRED;
    if scaled.fract() != Decimal::ZERO {
        return Err("must have at most 2 decimal places");
    }
    i64::try_from(scaled).map_err(|_| "must be between 0 and 100")
}

/// A stored tax rate as a percentage with two decimals.
pub fn tax_rate_from_bp(bp: i64) -> Decimal {
    Decimal::new(bp, 2)
}

/// Checks a `tax_rate` field, recording a problem under it.
pub fn check_tax_rate(errors: &mut FieldErrors, rate: Decimal) -> Option<i64> {
    tax_rate_to_bp(rate)
        .map_err(|problem| errors.add("tax_rate", problem))
        .ok()
}

/// Checks a currency code: three letters, kept upper-case.
pub fn check_currency(errors: &mut FieldErrors, code: &str) -> String {
    let code = code.trim().to_ascii_uppercase();
    if code.len() != 3 || !code.chars().all(|c| c.is_ascii_alphabetic()) {
        errors.add(
            "currency_code",
            "must be a three-letter currency code such as EUR",
        );
    }
    code
}

/// The currency of a document that names none.
pub const DEFAULT_CURRENCY: &str = "EUR";

/// Checks every line, naming each bad field (`items[2].quantity`).
pub fn check_lines(errors: &mut FieldErrors, items: Vec<LineInput>) -> Vec<Line> {
    if items.len() > MAX_LINES {
        errors.add("items", format!("must have at most {MAX_LINES} lines"));
        return Vec::new();
    }
    let mut lines = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let field = |name: &str| format!("items[{i}].{name}");
        let description = required_text(errors, &field("description"), &item.description, 2000);
        let quantity = quantity_to_e4(item.quantity)
            .map_err(|problem| errors.add(field("quantity"), problem))
            .ok();
        let price = money::check(&field("unit_price"), item.unit_price, false, errors);
        if let (Some(quantity), Some(price)) = (quantity, price) {
            let line = Line::new(description, quantity, price, item.project_id);
            if i128::from(line.amount_cents) > MAX_CENTS {
                errors.add(field("total_amount"), "is too large");
            }
            lines.push(line);
        }
    }
    lines
}

/// Every `project_id` of the lines must name a project of the workspace.
pub async fn check_projects<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    lines: &[Line],
) -> Result<(), ApiError> {
    let wanted: HashSet<Uuid> = lines.iter().filter_map(|l| l.project_id).collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let found: HashSet<Uuid> = project::Entity::find()
        .select_only()
        .column(project::Column::Id)
        .filter(project::Column::WorkspaceId.eq(workspace_id))
        .filter(project::Column::Id.is_in(wanted.iter().copied()))
        .into_tuple::<Uuid>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let mut errors = FieldErrors::new();
    for (i, line) in lines.iter().enumerate() {
        if line.project_id.is_some_and(|p| !found.contains(&p)) {
            errors.add(
                format!("items[{i}].project_id"),
                "no such project in this workspace",
            );
        }
    }
    errors.into_result()
}

/// An invoice's or quote's totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub subtotal_cents: i64,
    pub tax_cents: i64,
    pub total_cents: i64,
}

impl Totals {
    /// Σ line amounts; tax = subtotal × rate, half-up to the cent; total = subtotal + tax.
    pub fn of(lines: &[Line], tax_rate_bp: i64) -> Self {
        let subtotal: i128 = lines.iter().map(|l| i128::from(l.amount_cents)).sum();
        let tax = round_half_up(subtotal * i128::from(tax_rate_bp), 10_000);
        Self {
            subtotal_cents: clamp_cents(subtotal),
            tax_cents: clamp_cents(tax),
            total_cents: clamp_cents(subtotal + tax),
        }
    }

    /// Refuses totals beyond what money may be.
    pub fn check(self) -> Result<Self, ApiError> {
        if i128::from(self.total_cents) > MAX_CENTS {
            return Err(ApiError::invalid("items", "the total is too large"));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn amounts_and_tax_round_half_up_to_the_cent() {
        assert_eq!(amount_cents(30_000, 10), 30);
        // 0.0050 × 1.00 = 0.005 → 0.01
        assert_eq!(amount_cents(50, 100), 1);
        assert_eq!(amount_cents(49, 100), 0);
        let lines = [Line::new("x".into(), 30_000, 10, None)];
        // 0.30 × 19 % = 0.057 → 0.06
        assert_eq!(
            Totals::of(&lines, 1900),
            Totals {
                subtotal_cents: 30,
                tax_cents: 6,
                total_cents: 36
            }
        );
        // 0.50 × 1 % = 0.005 → 0.01
        let half = [Line::new("x".into(), 10_000, 50, None)];
        assert_eq!(Totals::of(&half, 100).tax_cents, 1);
    }

    #[test]
    fn quantities_are_exact_to_four_places() {
        assert_eq!(quantity_to_e4(d("1.5")), Ok(15_000));
        assert_eq!(quantity_to_e4(d("0.0001")), Ok(1));
        assert!(quantity_to_e4(d("0.00001")).is_err());
        assert!(quantity_to_e4(d("0")).is_err());
        assert!(quantity_to_e4(d("-1")).is_err());
        assert_eq!(quantity_from_e4(15_000).to_string(), "1.5");
        assert_eq!(quantity_from_e4(30_000).to_string(), "3");
    }

    #[test]
    fn hours_round_half_up_to_hundredths() {
        assert_eq!(hundredths_of_hours(5400), 150);
        assert_eq!(hundredths_of_hours(18), 1); // 0.005 h
        assert_eq!(hundredths_of_hours(17), 0);
        assert_eq!(hundredths_of_hours(4800), 133);
        assert_eq!(hours_2dp(5400).to_string(), "1.50");
    }

    #[test]
    fn tax_rates_are_percentages_with_two_places() {
        assert_eq!(tax_rate_to_bp(d("19.5")), Ok(1950));
        assert_eq!(tax_rate_to_bp(d("100")), Ok(10_000));
        assert!(tax_rate_to_bp(d("100.01")).is_err());
        assert!(tax_rate_to_bp(d("-1")).is_err());
        assert!(tax_rate_to_bp(d("7.125")).is_err());
        assert_eq!(tax_rate_from_bp(1950).to_string(), "19.50");
    }
}
