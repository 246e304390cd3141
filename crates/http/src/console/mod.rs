//! The operator console (`/console/`): server-rendered pages where the
//! operator's people sign in and look after merchants, traders and their
//! cabinets, deals and disputes, bank notifications no deal matched, payouts
//! waiting for a trader, the service catalog and its fees, rates and payout
//! fees, hand adjustments of a merchant's balance, and the audit log of
//! what was changed here. Built
//! on the shared [`crate::web`] blocks; every rule is the engine's.
//!
//! A user's role decides what it may do: `support` reads every page, and
//! every change it posts is refused with 403 before the form is read;
//! `admin` changes, each change written to the audit log in the
//! transaction of the change (the engine checks the role again there).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use kassa_domain::WebRealm;
use maud::{html, Markup};
use serde::Deserialize;

use crate::web::session::{self, signed_in, NotSignedIn, Signed};
use crate::web::{page, read_form, Lang, Realm, WebError};
use crate::AppState;

mod adjustments;
mod audit;
mod deals;
mod directory;
mod input;
mod merchant_new;
mod merchants;
mod notifications;
mod payouts;
mod rates;
mod services;
mod sign_in;
mod traders;
mod words;

pub const REALM: Realm = Realm {
    realm: WebRealm::Operator,
    cookie: "kassa_console",
    path: "/console",
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(home))
        .route("/console/", get(home))
        .route("/console/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/console/sign-out", post(sign_in::sign_out))
        .route(
            "/console/merchants",
            get(merchants::list).post(merchant_new::create),
        )
        .route("/console/merchants/{id}", get(merchants::show))
        .route("/console/merchants/{id}/settings", post(merchants::save))
        .route("/console/traders", get(traders::list))
        .route("/console/traders/{id}", get(traders::show))
        .route("/console/cabinets/{id}/active", post(traders::switch))
        .route("/console/deals", get(deals::list))
        .route("/console/disputes", get(deals::disputes))
        .route("/console/deals/{id}/confirm", post(deals::confirm))
        .route("/console/deals/{id}/resolve", post(deals::resolve))
        .route("/console/notifications", get(notifications::list))
        .route(
            "/console/notifications/{id}/match",
            post(notifications::match_deal),
        )
        .route("/console/payouts", get(payouts::list))
        .route("/console/services", get(services::list))
        .route(
            "/console/services/{code}",
            get(services::show).post(services::save),
        )
        .route("/console/rates", get(rates::list).post(rates::set_rate))
        .route("/console/payout-fees", post(rates::set_payout_fee))
        .route(
            "/console/adjustments",
            get(adjustments::page).post(adjustments::adjust),
        )
        .route("/console/audit", get(audit::list))
        .layer(axum::middleware::from_fn(|r, n| {
            session::remember_lang(REALM.path, r, n)
        }))
        .layer(axum::middleware::map_response(crate::web::protect_response))
}

/// The console's pages, for the top bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    Merchants,
    Traders,
    Deals,
    Disputes,
    Notifications,
    Payouts,
    Services,
    Rates,
    Adjustments,
    Audit,
}

impl Page {
    const ALL: [Page; 10] = [
        Page::Disputes,
        Page::Notifications,
        Page::Deals,
        Page::Traders,
        Page::Merchants,
        Page::Services,
        Page::Rates,
        Page::Adjustments,
        Page::Payouts,
        Page::Audit,
    ];

    fn path(self) -> &'static str {
        match self {
            Page::Merchants => "merchants",
            Page::Traders => "traders",
            Page::Deals => "deals",
            Page::Disputes => "disputes",
            Page::Notifications => "notifications",
            Page::Payouts => "payouts",
            Page::Services => "services",
            Page::Rates => "rates",
            Page::Adjustments => "adjustments",
            Page::Audit => "audit",
        }
    }

    fn label(self) -> words::Words {
        match self {
            Page::Merchants => words::MERCHANTS,
            Page::Traders => words::TRADERS,
            Page::Deals => words::DEALS,
            Page::Disputes => words::DISPUTES,
            Page::Notifications => words::NOTIFICATIONS_SHORT,
            Page::Payouts => words::PAYOUTS_SHORT,
            Page::Services => words::SERVICES,
            Page::Rates => words::RATES_SHORT,
            Page::Adjustments => words::ADJUSTMENTS,
            Page::Audit => words::AUDIT,
        }
    }
}

/// A signed-in operator user, of either role; without a session the
/// person is sent to sign in (and back here afterwards).
pub struct ConsoleUser {
    pub signed: Signed,
    pub lang: Lang,
}

impl ConsoleUser {
    pub fn id(&self) -> &str {
        &self.signed.user.id
    }

    fn error(&self, e: &kassa_engine::EngineError) -> WebError {
        WebError::from_engine(e, self.lang).at(REALM.path)
    }

    fn refuse(&self, status: StatusCode) -> WebError {
        WebError::new(status, self.lang).at(REALM.path)
    }

    /// The user's form, refused (403) without the session's CSRF token.
    async fn form<T: serde::de::DeserializeOwned>(
        &self,
        app: &AppState,
        body: axum::body::Body,
    ) -> Result<T, WebError> {
        read_form(app, Some(&self.signed.token), body, self.lang)
            .await
            .map_err(|e| e.at(REALM.path))
    }
}

impl FromRequestParts<AppState> for ConsoleUser {
    type Rejection = NotSignedIn;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (signed, lang) = signed_in(app, &REALM, parts).await?;
        Ok(ConsoleUser { signed, lang })
    }
}

/// A signed-in operator user who may change things. A support user's post
/// is refused with 403 here, before its form is read.
pub struct ConsoleAdmin(pub ConsoleUser);

impl FromRequestParts<AppState> for ConsoleAdmin {
    type Rejection = NotSignedIn;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = ConsoleUser::from_request_parts(parts, app).await?;
        if !user.signed.user.may_change() {
            let refusal = user
                .refuse(StatusCode::FORBIDDEN)
                .with_detail(user.lang.t(words::READ_ONLY));
            return Err(NotSignedIn::Error(refusal));
        }
        Ok(ConsoleAdmin(user))
    }
}

async fn home(user: Result<ConsoleUser, NotSignedIn>) -> Response {
    match user {
        Ok(_) => Redirect::to("/console/disputes").into_response(),
        Err(r) => r.into_response(),
    }
}

/// `?done=` after a change: the page says it was made.
#[derive(Deserialize, Default)]
pub struct Done {
    pub done: Option<String>,
}

/// A whole console page: the top bar with the pages, who is signed in (and
/// their role) and the sign-out button, then `main`.
pub fn console_page(
    app: &AppState,
    user: &ConsoleUser,
    here: Page,
    done: &Done,
    main: Markup,
) -> Response {
    let lang = user.lang;
    let role = user.signed.user.operator_role().map_or("", |r| r.as_str());
    let header = html! {
        nav {
            @for p in Page::ALL {
                a class=[(p == here).then_some("on")] href={ "/console/" (p.path()) } { (lang.t(p.label())) }
            }
        }
        span.hide-sm.muted #who { (user.signed.user.email) " · " span #role { (role) } }
        form method="post" action="/console/sign-out" {
            input type="hidden" name=(session::CSRF_FIELD) value=(user.signed.csrf(app));
            button #sign-out type="submit" { (lang.t(words::SIGN_OUT)) }
        }
    };
    let body = page(
        lang,
        lang.t(here.label()),
        header,
        html! {
            @if done.done.is_some() { p.notice #done { (lang.t(words::DONE)) } }
            (main)
        },
    );
    axum::response::Html(body.into_string()).into_response()
}

/// The hidden CSRF field of a signed-in user's forms.
pub fn csrf_field(app: &AppState, user: &ConsoleUser) -> Markup {
    html! { input type="hidden" name=(session::CSRF_FIELD) value=(user.signed.csrf(app)); }
}

/// Where a change sends the browser back to, saying it was made.
pub fn done(path: &str, what: &str) -> Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    let q = serde_urlencoded::to_string([("done", what)]).unwrap_or_default();
    Redirect::to(&format!("{path}{sep}{q}")).into_response()
}

/// Test or live as a badge.
pub fn mode_badge(lang: Lang, test_mode: bool) -> Markup {
    html! {
        @if test_mode { span.badge.test { (lang.t(words::TEST)) } }
        @else { span.badge { (lang.t(words::LIVE)) } }
    }
}
