//! Enums stored as text: each variant has one spelling, used in the database (a `check` lists
//! them), in the API and in locale keys. [`text_enum!`](crate::text_enum) declares such an enum
//! with `as_str`, `parse`, `ALL`, `Display`, `FromStr`, serde as that text, and binding to and
//! reading from a text column.

/// A text that is none of an enum's spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("“{value}” is not one of: {choices}")]
pub struct UnknownValue {
    pub value: String,
    /// The spellings allowed, comma-separated.
    pub choices: String,
}

/// What every [`text_enum!`](crate::text_enum) enum can do, for code generic over them.
pub trait TextEnum: Sized + Copy + 'static {
    const ALL: &'static [Self];
    fn as_str(self) -> &'static str;

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == text)
    }

    fn choices() -> String {
        Self::ALL
            .iter()
            .map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn parse_or_err(text: &str) -> Result<Self, UnknownValue> {
        Self::parse(text).ok_or_else(|| UnknownValue {
            value: text.to_owned(),
            choices: Self::choices(),
        })
    }
}

/// Declares an enum whose variants are stored and sent as the given texts.
///
/// ```ignore
/// text_enum! {
///     /// How an order is paid.
///     pub enum PaymentMethod { BankTransfer = "bank_transfer", Stripe = "stripe" }
/// }
/// ```
#[macro_export]
macro_rules! text_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident {
        $($(#[$vmeta:meta])* $variant:ident = $text:literal),* $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $($(#[$vmeta])* $variant),*
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text { $($text => Some($name::$variant),)* _ => None }
            }
        }

        impl $crate::text::TextEnum for $name {
            const ALL: &'static [$name] = $name::ALL;
            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::text::UnknownValue;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                <$name as $crate::text::TextEnum>::parse_or_err(text)
            }
        }

        impl $crate::__private::serde::Serialize for $name {
            fn serialize<S: $crate::__private::serde::Serializer>(
                &self,
                serializer: S,
            ) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> $crate::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__private::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str> as $crate::__private::serde::Deserialize>::deserialize(deserializer)?;
                <$name as $crate::text::TextEnum>::parse_or_err(&text)
                    .map_err(<D::Error as $crate::__private::serde::de::Error>::custom)
            }
        }

        impl $crate::__private::sqlx::Type<$crate::__private::sqlx::Any> for $name {
            fn type_info() -> $crate::__private::sqlx::any::AnyTypeInfo {
                <str as $crate::__private::sqlx::Type<$crate::__private::sqlx::Any>>::type_info()
            }
            fn compatible(ty: &$crate::__private::sqlx::any::AnyTypeInfo) -> bool {
                <str as $crate::__private::sqlx::Type<$crate::__private::sqlx::Any>>::compatible(ty)
            }
        }

        impl<'q> $crate::__private::sqlx::Encode<'q, $crate::__private::sqlx::Any> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut <$crate::__private::sqlx::Any as $crate::__private::sqlx::Database>::ArgumentBuffer,
            ) -> Result<$crate::__private::sqlx::encode::IsNull, $crate::__private::BoxDynError> {
                <&str as $crate::__private::sqlx::Encode<'q, $crate::__private::sqlx::Any>>::encode(self.as_str(), buf)
            }
        }

        impl<'r> $crate::__private::sqlx::Decode<'r, $crate::__private::sqlx::Any> for $name {
            fn decode(
                value: <$crate::__private::sqlx::Any as $crate::__private::sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, $crate::__private::BoxDynError> {
                let text = <&str as $crate::__private::sqlx::Decode<'r, $crate::__private::sqlx::Any>>::decode(value)?;
                Ok(<$name as $crate::text::TextEnum>::parse_or_err(text)?)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::TextEnum;

    crate::text_enum! {
        /// A test enum.
        pub enum Colour { Red = "red", DarkBlue = "dark_blue" }
    }

    #[test]
    fn spells_parses_and_lists() {
        assert_eq!(Colour::DarkBlue.as_str(), "dark_blue");
        assert_eq!(Colour::parse("red"), Some(Colour::Red));
        assert_eq!(Colour::parse("Red"), None);
        assert_eq!(Colour::ALL.len(), 2);
        let err = "green".parse::<Colour>().unwrap_err();
        assert_eq!(err.choices, "red, dark_blue");
        assert_eq!(<Colour as TextEnum>::choices(), "red, dark_blue");
        assert_eq!(
            serde_json::to_string(&Colour::DarkBlue).unwrap(),
            "\"dark_blue\""
        );
        assert_eq!(
            serde_json::from_str::<Colour>("\"red\"").unwrap(),
            Colour::Red
        );
        assert!(serde_json::from_str::<Colour>("\"pink\"").is_err());
    }
}
