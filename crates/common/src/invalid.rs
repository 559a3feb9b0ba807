//! Input that cannot be taken, said as data: which [`Field`] and what [`Problem`], never an
//! English sentence. The storefront words it in the visitor's language (locale keys
//! `fields.<field>` and `problems.<problem>`), the API sends its field and problem as codes, and
//! the CLI names the field. The checks every crate makes on people's input live here once.

use crate::money::Fen;

crate::text_enum! {
    /// A field a person fills in (a form field, an API body field, a CLI option).
    pub enum Field {
        Account = "account",
        AccountName = "account_name",
        AccountNo = "account_no",
        Address = "address",
        Amount = "amount",
        BankName = "bank_name",
        BatchNo = "batch_no",
        Body = "body",
        Carrier = "carrier",
        Cart = "cart",
        Category = "category",
        CertificationNo = "certification_no",
        CertifiedUntil = "certified_until",
        Description = "description",
        DescriptionEn = "description_en",
        Detail = "detail",
        DistrictCode = "district_code",
        Fee = "fee",
        File = "file",
        Form = "form",
        Kind = "kind",
        Level = "level",
        Login = "login",
        Method = "method",
        Month = "month",
        Name = "name",
        NameEn = "name_en",
        Note = "note",
        Notice = "notice",
        Origin = "origin",
        Part = "part",
        Password = "password",
        PaymentMethod = "payment_method",
        PerKg = "per_kg",
        Phone = "phone",
        Price = "price",
        ProducedOn = "produced_on",
        Producer = "producer",
        Quantity = "quantity",
        Reason = "reason",
        ReceivedOn = "received_on",
        Recipient = "recipient",
        Reference = "reference",
        RegionCode = "region_code",
        ShelfLifeDays = "shelf_life_days",
        Site = "site",
        Sku = "sku",
        SkuName = "sku_name",
        Skus = "skus",
        Slug = "slug",
        Status = "status",
        Stock = "stock",
        Story = "story",
        StoryEn = "story_en",
        StripeAccount = "stripe_account",
        Tags = "tags",
        Threshold = "threshold",
        Title = "title",
        TitleEn = "title_en",
        Township = "township",
        TrackingNo = "tracking_no",
        Unit = "unit",
        Village = "village",
        WeightG = "weight_g",
        WomenEmployed = "women_employed",
    }
}

/// What is wrong with a field's value. Each has a locale key `problems.<code>` whose `{names}`
/// are the variant's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Left empty.
    Required,
    /// Longer than `max` characters.
    TooLong { max: usize },
    /// Not between `min` and `max` characters.
    Length { min: usize, max: usize },
    /// A number outside `min..=max`.
    Range { min: i64, max: i64 },
    /// An amount outside `min..=max`.
    AmountRange { min: Fen, max: Fen },
    /// Zero or less where only more than zero makes sense.
    NotPositive,
    /// More than `max` entries (addresses, cart lines, tags, SKUs).
    TooMany { max: usize },
    /// Two entries with the same name.
    Duplicate { value: String },
    /// Holds control or invisible characters (see [`invisible`]).
    ControlCharacters,
    /// Holds a character that may not appear in it.
    BadCharacter { character: char },
    /// Not a date like 2026-11-29.
    NotADate { value: String },
    /// Not a month like 2026-11.
    NotAMonth { value: String },
    /// A date after today.
    InTheFuture,
    /// Not an amount in yuan like 68.50.
    NotAnAmount { value: String },
    /// Not a mainland mobile number.
    NotAMobile { value: String },
    /// Not a six-digit district or county code.
    NotADistrict { value: String },
    /// Not a province, city or district code.
    NotARegion { value: String },
    /// Not a township of the district given.
    NotATownship { value: String },
    /// Not lowercase letters and digits joined by hyphens.
    NotASlug { value: String },
    /// Not a Stripe connected account id (acct_…).
    NotAStripeAccount { value: String },
    /// Not a bank account number (8 to 32 digits).
    NotAnAccountNumber { value: String },
    /// None of the values this field takes.
    Unknown { value: String, choices: String },
    /// A value this shop does not offer (a payment method it does not take).
    NotOffered { value: String },
    /// Needs another field filled in with it (a certificate number needs its date).
    NeedsAlso { other: Field },
    /// Could not be read at all (a body that is not the JSON expected, a form that is not one).
    Unreadable { detail: String },
}

impl Problem {
    /// The stable code: the API's `problem` and the locale key's last part.
    pub fn code(&self) -> &'static str {
        match self {
            Problem::Required => "required",
            Problem::TooLong { .. } => "too_long",
            Problem::Length { .. } => "length",
            Problem::Range { .. } => "range",
            Problem::AmountRange { .. } => "amount_range",
            Problem::NotPositive => "not_positive",
            Problem::TooMany { .. } => "too_many",
            Problem::Duplicate { .. } => "duplicate",
            Problem::ControlCharacters => "control_characters",
            Problem::BadCharacter { .. } => "bad_character",
            Problem::NotADate { .. } => "not_a_date",
            Problem::NotAMonth { .. } => "not_a_month",
            Problem::InTheFuture => "in_the_future",
            Problem::NotAnAmount { .. } => "not_an_amount",
            Problem::NotAMobile { .. } => "not_a_mobile",
            Problem::NotADistrict { .. } => "not_a_district",
            Problem::NotARegion { .. } => "not_a_region",
            Problem::NotATownship { .. } => "not_a_township",
            Problem::NotASlug { .. } => "not_a_slug",
            Problem::NotAStripeAccount { .. } => "not_a_stripe_account",
            Problem::NotAnAccountNumber { .. } => "not_an_account_number",
            Problem::Unknown { .. } => "unknown",
            Problem::NotOffered { .. } => "not_offered",
            Problem::NeedsAlso { .. } => "needs_also",
            Problem::Unreadable { .. } => "unreadable",
        }
    }

    /// The values for the message's `{names}`.
    pub fn args(&self) -> Vec<(&'static str, String)> {
        match self {
            Problem::TooLong { max } | Problem::TooMany { max } => vec![("max", max.to_string())],
            Problem::Length { min, max } => {
                vec![("min", min.to_string()), ("max", max.to_string())]
            }
            Problem::Range { min, max } => {
                vec![("min", min.to_string()), ("max", max.to_string())]
            }
            Problem::AmountRange { min, max } => {
                vec![("min", min.to_string()), ("max", max.to_string())]
            }
            Problem::Duplicate { value }
            | Problem::NotADate { value }
            | Problem::NotAMonth { value }
            | Problem::NotAnAmount { value }
            | Problem::NotAMobile { value }
            | Problem::NotADistrict { value }
            | Problem::NotARegion { value }
            | Problem::NotATownship { value }
            | Problem::NotASlug { value }
            | Problem::NotAStripeAccount { value }
            | Problem::NotAnAccountNumber { value }
            | Problem::NotOffered { value } => vec![("value", value.clone())],
            Problem::Unknown { value, choices } => {
                vec![("value", value.clone()), ("choices", choices.clone())]
            }
            Problem::BadCharacter { character } => vec![("character", character.to_string())],
            Problem::NeedsAlso { other } => vec![("other", other.as_str().to_owned())],
            Problem::Unreadable { detail } => vec![("detail", detail.clone())],
            Problem::Required
            | Problem::NotPositive
            | Problem::ControlCharacters
            | Problem::InTheFuture => Vec::new(),
        }
    }

    /// One of each problem, for tests that every one can be said in every language.
    pub fn examples() -> Vec<Problem> {
        let value = || "x".to_owned();
        vec![
            Problem::Required,
            Problem::TooLong { max: 20 },
            Problem::Length { min: 1, max: 20 },
            Problem::Range { min: 1, max: 99 },
            Problem::AmountRange {
                min: Fen(0),
                max: Fen(100_000),
            },
            Problem::NotPositive,
            Problem::TooMany { max: 50 },
            Problem::Duplicate { value: value() },
            Problem::ControlCharacters,
            Problem::BadCharacter { character: ',' },
            Problem::NotADate { value: value() },
            Problem::NotAMonth { value: value() },
            Problem::InTheFuture,
            Problem::NotAnAmount { value: value() },
            Problem::NotAMobile { value: value() },
            Problem::NotADistrict { value: value() },
            Problem::NotARegion { value: value() },
            Problem::NotATownship { value: value() },
            Problem::NotASlug { value: value() },
            Problem::NotAStripeAccount { value: value() },
            Problem::NotAnAccountNumber { value: value() },
            Problem::Unknown {
                value: value(),
                choices: "a, b".into(),
            },
            Problem::NotOffered { value: value() },
            Problem::NeedsAlso {
                other: Field::CertifiedUntil,
            },
            Problem::Unreadable { detail: value() },
        ]
    }
}

/// A field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {}", problem.code())]
pub struct Invalid {
    pub field: Field,
    pub problem: Problem,
}

impl Invalid {
    pub fn new(field: Field, problem: Problem) -> Invalid {
        Invalid { field, problem }
    }
}

/// A required text, trimmed: present, at most `max` characters, no control characters.
pub fn text(field: Field, value: &str, max: usize) -> Result<&str, Invalid> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Invalid::new(field, Problem::Required));
    }
    optional_text(field, value, max)
}

/// A text that may be empty, trimmed: at most `max` characters, no control characters (line
/// breaks are allowed in longer texts).
pub fn optional_text(field: Field, value: &str, max: usize) -> Result<&str, Invalid> {
    let value = value.trim();
    if value.chars().count() > max {
        return Err(Invalid::new(field, Problem::TooLong { max }));
    }
    if value
        .chars()
        .any(|c| invisible(c) && !(max > 200 && (c == '\n' || c == '\r' || c == '\t')))
    {
        return Err(Invalid::new(field, Problem::ControlCharacters));
    }
    Ok(value)
}

/// A character nobody means to type into a name, an address or a reason: a control character
/// (Unicode Cc: NUL, escape, line breaks), a format character (Cf: zero-width space U+200B,
/// the right-to-left override U+202E, the byte-order mark), or a line or paragraph separator.
/// They make two texts look alike that are not (`a\u{200b}@x.cn` beside `a@x.cn`), reverse what
/// a reader sees, or break the files a bank reads.
pub fn invisible(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// `value` without [`invisible`] characters: for what is written into files others read (bank
/// batches, CSV exports), whatever reached the database before it was checked.
pub fn visible_only(value: &str) -> std::borrow::Cow<'_, str> {
    if value.chars().any(invisible) {
        value.chars().filter(|c| !invisible(*c)).collect()
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}

/// A required text of `min..=max` characters.
pub fn text_between(field: Field, value: &str, min: usize, max: usize) -> Result<&str, Invalid> {
    let trimmed = value.trim();
    let n = trimmed.chars().count();
    if n < min.max(1) || n > max {
        return Err(Invalid::new(field, Problem::Length { min, max }));
    }
    optional_text(field, trimmed, max)
}

/// A whole number in `min..=max`.
pub fn range(field: Field, value: i64, min: i64, max: i64) -> Result<i64, Invalid> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(Invalid::new(field, Problem::Range { min, max }))
    }
}

/// An amount above zero.
pub fn positive(field: Field, amount: Fen) -> Result<Fen, Invalid> {
    if amount.0 > 0 {
        Ok(amount)
    } else {
        Err(Invalid::new(field, Problem::NotPositive))
    }
}

/// A calendar date written `YYYY-MM-DD`.
pub fn date(field: Field, value: &str) -> Result<time::Date, Invalid> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(value.trim(), format).map_err(|_| {
        Invalid::new(
            field,
            Problem::NotADate {
                value: value.to_owned(),
            },
        )
    })
}

/// A value that must be one of an enum's spellings.
pub fn choice<T: crate::text::TextEnum>(field: Field, value: &str) -> Result<T, Invalid> {
    T::parse_or_err(value.trim()).map_err(|e| {
        Invalid::new(
            field,
            Problem::Unknown {
                value: e.value,
                choices: e.choices,
            },
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_trimmed_and_bounded() {
        assert_eq!(text(Field::Name, "  李华 ", 20).unwrap(), "李华");
        assert_eq!(
            text(Field::Name, "   ", 20).unwrap_err().problem,
            Problem::Required
        );
        assert_eq!(
            text(Field::Name, &"字".repeat(21), 20).unwrap_err().problem,
            Problem::TooLong { max: 20 }
        );
        assert_eq!(
            text(Field::Name, "a\u{0}b", 20).unwrap_err().problem,
            Problem::ControlCharacters
        );
        for sneaky in [
            "a\u{200b}b",
            "a\u{202e}b",
            "\u{feff}ab",
            "a\u{2028}b",
            "a\u{1b}b",
        ] {
            assert_eq!(
                text(Field::Name, sneaky, 20).unwrap_err().problem,
                Problem::ControlCharacters,
                "{sneaky:?}"
            );
        }
        assert_eq!(visible_only("张\u{0}三\u{200b}"), "张三");
        assert_eq!(
            optional_text(Field::Story, "一\n二", 2000).unwrap(),
            "一\n二"
        );
        assert_eq!(
            text_between(Field::Detail, "门", 4, 120)
                .unwrap_err()
                .problem,
            Problem::Length { min: 4, max: 120 }
        );
    }

    #[test]
    fn numbers_dates_and_choices() {
        assert!(range(Field::Quantity, 0, 1, 99).is_err());
        assert_eq!(range(Field::Quantity, 99, 1, 99).unwrap(), 99);
        assert!(positive(Field::Amount, Fen(0)).is_err());
        assert_eq!(date(Field::ReceivedOn, "2026-11-29").unwrap().day(), 29);
        assert!(matches!(
            date(Field::ReceivedOn, "29/11/2026").unwrap_err().problem,
            Problem::NotADate { .. }
        ));
        let err = choice::<Field>(Field::Kind, "nonsense").unwrap_err();
        assert_eq!(err.problem.code(), "unknown");
    }

    #[test]
    fn every_problem_has_a_distinct_code() {
        let codes: std::collections::BTreeSet<_> =
            Problem::examples().iter().map(Problem::code).collect();
        assert_eq!(codes.len(), Problem::examples().len());
    }
}
