//! The merchant portal (`/portal/`): server-rendered pages where a merchant's
//! people sign in and see their invoices, their callbacks and their books,
//! in test or live mode. Built on the shared [`crate::web`] blocks; every
//! rule is the engine's.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use kassa_domain::WebRealm;
use maud::{html, Markup};

pub use books::Page;

use crate::web::session::{self, Signed};
pub use crate::web::sign_in::PageLang;
use crate::web::sign_in::{remember_lang, signed_in, SignInRejection};
use crate::web::{Lang, Realm, WebError};
use crate::AppState;

mod books;
mod invoice;
mod invoices;
mod payouts;
mod sign_in;
mod words;

pub static REALM: Realm = Realm {
    realm: WebRealm::Merchant,
    cookie: "kassa_portal",
    path: "/portal",
    title: words::PORTAL,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/portal", get(home))
        .route("/portal/", get(home))
        .route("/portal/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/portal/sign-out", post(sign_in::sign_out))
        .route("/portal/{mode}/invoices", get(invoices::list))
        .route("/portal/{mode}/invoices/{id}", get(invoice::show))
        .route("/portal/{mode}/invoices/{id}/resend", post(invoice::resend))
        .route("/portal/{mode}/payouts", get(payouts::list))
        .route("/portal/{mode}/books", get(books::show))
        .route("/portal/{mode}/books/report.csv", get(books::csv))
        .layer(axum::middleware::from_fn_with_state(&REALM, remember_lang))
        .layer(axum::middleware::map_response(crate::web::protect_response))
}

/// Test or live: which books and invoices a page shows. Part of the path,
/// so a link always says which it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Test,
    Live,
}

impl Mode {
    pub fn parse(text: &str) -> Option<Mode> {
        match text {
            "test" => Some(Mode::Test),
            "live" => Some(Mode::Live),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Test => "test",
            Mode::Live => "live",
        }
    }

    pub fn is_test(self) -> bool {
        self == Mode::Test
    }
}

/// A signed-in merchant user; without a session the person is sent to
/// sign in (and back here afterwards).
pub struct PortalUser {
    pub signed: Signed,
    pub lang: Lang,
}

impl PortalUser {
    pub fn merchant_id(&self) -> String {
        self.signed.user.subject_id.clone()
    }
}

pub type PortalRejection = SignInRejection;

impl FromRequestParts<AppState> for PortalUser {
    type Rejection = PortalRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (signed, lang) = signed_in(app, &REALM, parts).await?;
        Ok(PortalUser { signed, lang })
    }
}

async fn home(user: Result<PortalUser, PortalRejection>) -> Response {
    match user {
        Ok(_) => Redirect::to("/portal/test/invoices").into_response(),
        Err(r) => r.into_response(),
    }
}

/// The top bar of a signed-in page: the mode switch, the pages, who is
/// signed in and the sign-out button (a form, with its token).
pub fn top_bar(app: &AppState, user: &PortalUser, mode: Mode, here: Page) -> Markup {
    let lang = user.lang;
    let other = match mode {
        Mode::Test => Mode::Live,
        Mode::Live => Mode::Test,
    };
    html! {
        nav {
            @for (p, label) in [(Page::Invoices, words::INVOICES), (Page::Payouts, words::PAYOUTS), (Page::Books, words::BOOKS)] {
                a class=[(p == here).then_some("on")] href={ "/portal/" (mode.as_str()) "/" (p.path()) } { (lang.t(label)) }
            }
        }
        span {
            @if mode.is_test() { span.badge.test #mode { (lang.t(words::TEST_MODE)) } }
            @else { span.badge #mode { (lang.t(words::LIVE_MODE)) } }
            " "
            a #switch-mode href={ "/portal/" (other.as_str()) "/" (here.path()) } {
                (lang.t(match other { Mode::Test => words::SWITCH_TO_TEST, Mode::Live => words::SWITCH_TO_LIVE }))
            }
        }
        span.hide-sm.muted #who { (user.signed.user.email) }
        form method="post" action="/portal/sign-out" {
            input type="hidden" name=(session::CSRF_FIELD) value=(user.signed.csrf(app));
            button #sign-out type="submit" { (lang.t(words::SIGN_OUT)) }
        }
    }
}

/// The mode named in a path; another word is no page of ours.
pub fn mode_of(text: &str, lang: Lang) -> Result<Mode, WebError> {
    Mode::parse(text).ok_or(WebError::new(axum::http::StatusCode::NOT_FOUND, lang))
}
