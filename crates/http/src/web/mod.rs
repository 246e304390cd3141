//! What Kassa's pages for people share (the merchant portal now; the
//! operator console and the trader panel later): languages, the page layout
//! and its headers, the session cookie, and forms that carry a CSRF token.

pub mod format;
pub mod lang;
pub mod layout;
pub mod session;
pub mod sign_in;
pub mod words;

pub use lang::Lang;
pub use layout::{page, protect_response, WebError};
pub use session::{read_form, PageLang, Realm, Signed};
