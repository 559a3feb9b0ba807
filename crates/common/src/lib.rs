//! What every Jinguo crate shares: money in integer fen, typed ids, China's division codes
//! (GB/T 2260), configuration, the database pool with its migrations, and the clock.

pub mod cache;
pub mod clock;
pub mod config;
pub mod db;
pub mod ids;
pub mod money;
pub mod phone;
pub mod region;
#[cfg(feature = "testing")]
pub mod testing;

pub use clock::Clock;
pub use db::{Backend, Db};
pub use money::Fen;
