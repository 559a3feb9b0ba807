//! What every Jinguo crate shares: money in integer fen, typed ids and text enums that bind to
//! SQL directly, input problems said as data, China's division codes (GB/T 2260), settings
//! building blocks, the database pool with its migrations, and the clock.

pub mod cache;
pub mod clock;
pub mod config;
pub mod db;
pub mod ids;
pub mod invalid;
pub mod money;
pub mod phone;
pub mod region;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;

pub use clock::Clock;
pub use db::{Backend, Db};
pub use invalid::{Field, Invalid, Problem};
pub use money::Fen;
pub use text::TextEnum;

/// What the exported macros name; not for direct use.
#[doc(hidden)]
pub mod __private {
    pub use serde;
    pub use sqlx;
    pub use sqlx::error::BoxDynError;
}
