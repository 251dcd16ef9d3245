//! Field checks shared by every resource: trimmed text with length limits. Each records its
//! problem under the field's name, so one 400 lists every bad field at once.

use super::error::FieldErrors;

/// A required text: trimmed, non-empty, at most `max` characters.
pub fn required_text(errors: &mut FieldErrors, field: &str, value: &str, max: usize) -> String {
    let value = value.trim();
    if value.is_empty() {
        errors.add(field, "is required");
    } else if value.chars().count() > max {
        errors.add(field, format!("must be at most {max} characters"));
    }
    value.to_owned()
}

/// An optional text: trimmed; empty becomes `None`; at most `max` characters.
pub fn optional_text(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<String>,
    max: usize,
) -> Option<String> {
    let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    if value.as_ref().is_some_and(|v| v.chars().count() > max) {
        errors.add(field, format!("must be at most {max} characters"));
    }
    value
}

/// One of a fixed set of lower-case words.
pub fn one_of<'a>(
    errors: &mut FieldErrors,
    field: &str,
    value: &str,
    allowed: &[&'a str],
) -> Option<&'a str> {
    let value = value.trim().to_ascii_lowercase();
    let found = allowed.iter().copied().find(|a| *a == value);
    if found.is_none() {
        errors.add(field, format!("must be one of: {}", allowed.join(", ")));
    }
    found
}
