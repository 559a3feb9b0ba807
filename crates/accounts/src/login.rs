//! Logins: an email address or a mainland mobile number, normalised so that one person has one
//! account however they type it.

use serde::Serialize;

use crate::AccountError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Login {
    /// Lowercased.
    Email(String),
    /// Eleven digits, without +86.
    Phone(String),
}

impl Login {
    pub fn parse(input: &str) -> Result<Login, AccountError> {
        let trimmed = input.trim();
        if trimmed.contains('@') {
            let email = trimmed.to_lowercase();
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
