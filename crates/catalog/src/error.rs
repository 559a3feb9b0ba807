use jinguo_common::invalid::{self, Field, Invalid, Problem};

use crate::image::ImageError;
use crate::search::SearchError;

/// What can go wrong with a catalog operation, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{what} “{key}” does not exist")]
    NotFound { what: &'static str, key: String },
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("search is unavailable: {0}")]
    Search(#[from] SearchError),
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The compiled-in demo catalog does not read (a build with a broken `demo/catalog.toml`).
    #[error("the demo catalog: {0}")]
    Demo(String),
    #[error("database error: {0}")]
    General(#[from] sqlx::Error),
}

impl CatalogError {
    pub(crate) fn invalid(field: Field, problem: Problem) -> Self {
        CatalogError::Invalid(Invalid::new(field, problem))
    }

    pub(crate) fn not_found(what: &'static str, key: impl Into<String>) -> Self {
        CatalogError::NotFound {
            what,
            key: key.into(),
        }
    }
}

/// Checks a slug: lowercase ASCII letters and digits in hyphen-separated words, at most 80.
pub(crate) fn check_slug(field: Field, slug: &str) -> Result<(), CatalogError> {
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
            Problem::NotASlug {
                value: slug.to_owned(),
            },
        ))
    }
}

/// Checks that a required text is present and at most `max` characters.
pub(crate) fn check_text(field: Field, text: &str, max: usize) -> Result<(), CatalogError> {
    invalid::text(field, text, max)?;
    Ok(())
}

/// Checks that a text that may be empty is at most `max` characters.
pub(crate) fn check_len(field: Field, text: &str, max: usize) -> Result<(), CatalogError> {
    invalid::optional_text(field, text, max)?;
    Ok(())
}

/// Checks a calendar date written `YYYY-MM-DD`.
pub(crate) fn check_date(field: Field, date: &str) -> Result<time::Date, CatalogError> {
    Ok(invalid::date(field, date)?)
}

impl From<crate::outbox::OutboxError> for CatalogError {
    fn from(error: crate::outbox::OutboxError) -> Self {
        match error {
            crate::outbox::OutboxError::Search(e) => CatalogError::Search(e),
            crate::outbox::OutboxError::Db(e) => CatalogError::General(e),
        }
    }
}
