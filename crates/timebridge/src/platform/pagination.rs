//! Page-based pagination in TimeTracker's wire shape: `?page=&per_page=` in, and
//! `{"<resource>": [...], "pagination": {...}}` out. `per_page` defaults to 50 and is capped at 100.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, FieldErrors};

pub const DEFAULT_PER_PAGE: u64 = 50;
pub const MAX_PER_PAGE: u64 = 100;

/// The most rows a page may skip.
const MAX_OFFSET: u64 = i64::MAX as u64;

/// `page` and `per_page` as sent; flatten this into a list's query struct.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page number, from 1. At most ⌊(2^63 − 1) / per_page⌋ + 1 for the `per_page` used (a
    /// page past what the database can skip is a 400 naming `page`); 92233720368547759 is in
    /// range whatever `per_page` is.
    #[serde(default, deserialize_with = "number")]
    #[param(minimum = 1, maximum = 92233720368547759_i64, default = 1, example = 1)]
    pub page: Option<i64>,
    /// Items per page: default 50; larger values are accepted and treated as 100 (the
    /// answer's `pagination.per_page` says which was used).
    #[serde(default, deserialize_with = "number")]
    #[param(minimum = 1, default = 50, example = 50)]
    pub per_page: Option<i64>,
}

/// Accepts a number given as a JSON number or as text (query strings are always text,
/// and `#[serde(flatten)]` hides the difference from the deserializer).
fn number<'de, D: Deserializer<'de>>(de: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(i64),
        Text(String),
    }
    match Option::<Raw>::deserialize(de)? {
        None => Ok(None),
        Some(Raw::Int(n)) => Ok(Some(n)),
        Some(Raw::Text(t)) => t
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("must be a whole number, got {t:?}"))),
    }
}

/// A validated page request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u64,
    pub per_page: u64,
}

impl PageRequest {
    /// Validates `page` and `per_page`: both at least 1; `per_page` capped at 100.
    pub fn from_params(params: &PageParams) -> Result<Self, ApiError> {
        let mut errors = FieldErrors::new();
        let page = params.page.unwrap_or(1);
        let per_page = params.per_page.unwrap_or(DEFAULT_PER_PAGE as i64);
        if page < 1 {
            errors.add("page", "must be at least 1");
        }
        if per_page < 1 {
            errors.add("per_page", "must be at least 1");
        }
        let per_page = (per_page.max(1) as u64).min(MAX_PER_PAGE);
        // The databases count rows to skip in a signed 64-bit integer.
        let skipped = (page.max(1) as u64 - 1).checked_mul(per_page);
        if page >= 1 && skipped.is_none_or(|n| n > MAX_OFFSET) {
            errors.add(
                "page",
                format!("is out of range: at most {}", MAX_OFFSET / per_page + 1),
            );
        }
        errors.into_result()?;
        Ok(Self {
            page: page as u64,
            per_page,
        })
    }

    /// Rows to skip.
    pub fn offset(&self) -> u64 {
        (self.page - 1).saturating_mul(self.per_page)
    }
}

/// The `pagination` object of every list response.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct Pagination {
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
    pub pages: u64,
    pub has_next: bool,
    pub has_prev: bool,
    pub next_page: Option<u64>,
    pub prev_page: Option<u64>,
}

impl Pagination {
    pub fn new(request: PageRequest, total: u64) -> Self {
        let pages = total.div_ceil(request.per_page);
        let has_next = request.page < pages;
        let has_prev = request.page > 1;
        Self {
            page: request.page,
            per_page: request.per_page,
            total,
            pages,
            has_next,
            has_prev,
            next_page: has_next.then_some(request.page + 1),
            prev_page: has_prev.then_some(request.page - 1),
        }
    }
}

#[cfg(test)]
mod page_range_tests {
    use super::*;

    #[test]
    fn a_page_past_what_the_database_can_skip_is_a_400_naming_page() {
        let params = PageParams {
            page: Some(i64::MAX),
            per_page: Some(50),
        };
        let err = PageRequest::from_params(&params).unwrap_err();
        assert_eq!(err.status().as_u16(), 400);
        assert!(format!("{err:?}").contains("\"page\""), "{err:?}");
        let last = PageParams {
            page: Some((MAX_OFFSET / 50 + 1) as i64),
            per_page: Some(50),
        };
        assert!(PageRequest::from_params(&last).is_ok());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(page: i64, per_page: i64) -> Result<PageRequest, ApiError> {
        PageRequest::from_params(&PageParams {
            page: Some(page),
            per_page: Some(per_page),
        })
    }

    #[test]
    fn per_page_is_capped_at_100() {
        assert_eq!(request(1, 500).unwrap().per_page, 100);
        assert_eq!(
            PageRequest::from_params(&PageParams::default()).unwrap(),
            PageRequest {
                page: 1,
                per_page: 50
            }
        );
    }

    #[test]
    fn page_zero_is_rejected() {
        assert!(request(0, 10).is_err());
        assert!(request(1, 0).is_err());
    }

    #[test]
    fn metadata_matches_timetracker() {
        let p = Pagination::new(request(2, 50).unwrap(), 120);
        assert_eq!((p.pages, p.has_next, p.has_prev), (3, true, true));
        assert_eq!((p.next_page, p.prev_page), (Some(3), Some(1)));
        let last = Pagination::new(request(3, 50).unwrap(), 120);
        assert_eq!((last.has_next, last.next_page), (false, None));
        let empty = Pagination::new(request(1, 50).unwrap(), 0);
        assert_eq!(
            (empty.pages, empty.has_next, empty.has_prev),
            (0, false, false)
        );
    }
}
