use crate::image::ImageError;
use crate::search::SearchError;

/// What can go wrong with a catalog operation, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{what} “{key}” does not exist")]
    NotFound { what: &'static str, key: String },
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("search is unavailable: {0}")]
    Search(#[from] SearchError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("database error: {0}")]
    General(#[from] sqlx::Error),
}

impl CatalogError {
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        CatalogError::Invalid {
            field,
            message: message.into(),
        }
    }

    pub(crate) fn not_found(what: &'static str, key: impl Into<String>) -> Self {
        CatalogError::NotFound {
            what,
            key: key.into(),
        }
    }
}

/// Checks a slug: lowercase ASCII letters and digits in hyphen-separated words, at most 80.
pub(crate) fn check_slug(field: &'static str, slug: &str) -> Result<(), CatalogError> {
    let ok = !slug.is_empty()
        && slug.len() <= 80
        && slug.split('-').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    if ok {
        Ok(())
    } else {
        Err(CatalogError::invalid(
            field,
            format!(
                "“{slug}” is not a slug (lowercase letters and digits joined by hyphens, at most 80)"
            ),
        ))
    }
}

/// Checks that a required text is present and at most `max` characters.
pub(crate) fn check_text(field: &'static str, text: &str, max: usize) -> Result<(), CatalogError> {
    if text.trim().is_empty() {
        return Err(CatalogError::invalid(field, "must not be empty"));
    }
    check_len(field, text, max)
}

pub(crate) fn check_len(field: &'static str, text: &str, max: usize) -> Result<(), CatalogError> {
    let n = text.chars().count();
    if n > max {
        return Err(CatalogError::invalid(
            field,
            format!("is {n} characters long; at most {max} are allowed"),
        ));
    }
    Ok(())
}

/// Checks a calendar date written `YYYY-MM-DD`.
pub(crate) fn check_date(field: &'static str, date: &str) -> Result<time::Date, CatalogError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(date, format).map_err(|_| {
        CatalogError::invalid(field, format!("“{date}” is not a date like 2026-11-29"))
    })
}
