//! Typed ids: a product id can't be passed where a producer id is expected. Each binds to and
//! reads from an integer column directly (`.bind(order)`, `row.try_get::<OrderId, _>("id")`).

/// Declares `pub struct $name(pub i64)` with the conversions a row id needs.
#[macro_export]
macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                Self(id)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }

        impl $crate::__private::sqlx::Type<$crate::__private::sqlx::Any> for $name {
            fn type_info() -> $crate::__private::sqlx::any::AnyTypeInfo {
                <i64 as $crate::__private::sqlx::Type<$crate::__private::sqlx::Any>>::type_info()
            }
            fn compatible(ty: &$crate::__private::sqlx::any::AnyTypeInfo) -> bool {
                <i64 as $crate::__private::sqlx::Type<$crate::__private::sqlx::Any>>::compatible(ty)
            }
        }

        impl<'q> $crate::__private::sqlx::Encode<'q, $crate::__private::sqlx::Any> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut <$crate::__private::sqlx::Any as $crate::__private::sqlx::Database>::ArgumentBuffer,
            ) -> Result<$crate::__private::sqlx::encode::IsNull, $crate::__private::BoxDynError> {
                <i64 as $crate::__private::sqlx::Encode<'q, $crate::__private::sqlx::Any>>::encode_by_ref(&self.0, buf)
            }
        }

        impl<'r> $crate::__private::sqlx::Decode<'r, $crate::__private::sqlx::Any> for $name {
            fn decode(
                value: <$crate::__private::sqlx::Any as $crate::__private::sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, $crate::__private::BoxDynError> {
                <i64 as $crate::__private::sqlx::Decode<'r, $crate::__private::sqlx::Any>>::decode(value).map(Self)
            }
        }
    };
}

id_type!(
    /// A person's account (the accounts crate's `users`).
    UserId
);
id_type!(
    /// A producer (the catalog's `producers`); producer staff accounts name theirs.
    ProducerId
);
