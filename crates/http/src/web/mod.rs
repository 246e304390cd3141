//! What Kassa's pages for people share (the merchant portal, the operator
//! console, the trader panel): languages, the page layout and its headers,
//! the session cookie, signing in and out, and forms that carry a CSRF token.

pub mod evidence;
pub mod format;
pub mod lang;
pub mod layout;
pub mod session;
pub mod sign_in;
pub mod words;

pub use lang::Lang;
pub use layout::{page, protect_response, WebError};
pub use session::{read_form, PageLang, Realm, Signed};
