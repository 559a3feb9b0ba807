//! Logins: an email address or a mainland mobile number, normalised so that one person has one
//! account however they type it.

use serde::Serialize;

use jinguo_common::invalid::{Field, Invalid, Problem};

use crate::AccountError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Login {
    /// Lowercased.
    Email(String),
    /// Eleven digits, without +86.
    Phone(String),
}

impl Login {
    /// Reads a login as typed: an email address is NFC-normalised and lowercased, a mobile
    /// number loses its spaces, dashes and +86. Control and invisible characters (a zero-width
    /// space, a direction override) are refused, so that no two accounts look alike.
    pub fn parse(input: &str) -> Result<Login, AccountError> {
        use unicode_normalization::UnicodeNormalization;
        let trimmed = input.trim();
        if trimmed.chars().any(jinguo_common::invalid::invisible) {
            return Err(AccountError::Invalid(Invalid::new(
                Field::Login,
                Problem::ControlCharacters,
            )));
        }
        if trimmed.contains('@') {
            let email = trimmed.nfc().collect::<String>().to_lowercase();
            let valid = email.len() <= 254
                && email.split_once('@').is_some_and(|(local, domain)| {
                    !local.is_empty()
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                        && !email.chars().any(char::is_whitespace)
                        && email.matches('@').count() == 1
                });
            return if valid {
                Ok(Login::Email(email))
            } else {
                Err(AccountError::BadLogin(input.to_owned()))
            };
        }
        mobile(trimmed)
            .map(Login::Phone)
            .ok_or_else(|| AccountError::BadLogin(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            Login::Email(s) | Login::Phone(s) => s,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Login::Email(_) => "email",
            Login::Phone(_) => "phone",
        }
    }
}

pub use jinguo_common::phone::mobile;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_person_one_login() {
        assert_eq!(
            Login::parse(" Wang.Li@Example.CN ").unwrap(),
            Login::Email("wang.li@example.cn".into())
        );
        assert_eq!(
            Login::parse("+86 138-0023-4567").unwrap(),
            Login::Phone("13800234567".into())
        );
        assert_eq!(
            Login::parse("13800234567").unwrap(),
            Login::Phone("13800234567".into())
        );
    }

    #[test]
    fn look_alikes_are_one_login_or_refused() {
        // "é" typed as one character or as e + combining accent is the same address.
        assert_eq!(
            Login::parse("Ren\u{e9}@example.cn").unwrap(),
            Login::parse("rene\u{301}@example.cn").unwrap()
        );
        for sneaky in [
            "a\u{200b}@probe.cn",
            "a\u{0}@probe.cn",
            "\u{202e}a@probe.cn",
            "1380023\u{feff}4567",
        ] {
            assert!(
                matches!(Login::parse(sneaky), Err(AccountError::Invalid(ref i)) if i.field == Field::Login),
                "{sneaky:?}"
            );
        }
    }

    #[test]
    fn refuses_what_is_neither() {
        for bad in [
            "12800234567",
            "1380023456",
            "02388888888",
            "wang@",
            "@example.cn",
            "a b@c.cn",
            "",
            "1380023456x",
        ] {
            assert!(Login::parse(bad).is_err(), "{bad}");
        }
    }
}
