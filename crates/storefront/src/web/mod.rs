//! The web layer between HTTP and the handlers: who is asking ([`session`]: the `sid` cookie for
//! pages, a bearer token for the API, and what their role lets them reach), whether a form came
//! from one of the shop's own pages ([`csrf`]), and the per-visitor bits filled into pages that
//! are otherwise shared ([`fill`]: the account links in the header and each form's token).

pub mod csrf;
pub mod fill;
pub mod idempotency;
pub mod session;
pub mod transport;

pub use csrf::CsrfForm;
pub use fill::role_links;
pub use session::{
    ApiUser, PageUser, SESSION_COOKIE, Visitor, actor_of, cart_owner_or_guest, producer_of,
    require_staff, set_cookie, start_session,
};
