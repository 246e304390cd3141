//! The trader panel (`/trader/`): server-rendered pages, laid out for a
//! phone first, where a trader's people sign in and work its cabinets,
//! deals, disputes and payouts and read its bank's messages and its
//! balance. Built on the shared [`crate::web`] blocks; every action is the
//! engine call the trader API makes, as the same trader, so a trader reaches
//! its own things only and another's are as unknown as missing ones (404).

use axum::body::Body;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use kassa_domain::{Actor, Trader, WebRealm};
use kassa_engine::EngineError;
use maud::{html, Markup};
use serde::Deserialize;

use crate::web::layout::refreshing_page;
use crate::web::session::{self, read_form, NotSignedIn, CSRF_FIELD};
use crate::web::sign_in::{NextQuery, SignInPage};
use crate::web::{page, Lang, PageLang, Realm, Signed, WebError};
use crate::AppState;

mod balances;
mod bank;
mod cabinets;
mod deals;
mod payouts;
mod words;

use words::Words;

pub const REALM: Realm = Realm {
    realm: WebRealm::Trader,
    cookie: "kassa_trader",
    path: "/trader",
};

/// How often a watched page (the open deals) reloads itself.
const WATCHED_REFRESH_SECS: u32 = 30;

const SIGN_IN: SignInPage = SignInPage {
    realm: REALM,
    title: words::PANEL,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/trader", get(home))
        .route("/trader/", get(home))
        .route("/trader/sign-in", get(sign_in_form).post(sign_in))
        .route("/trader/sign-out", post(sign_out))
        .route("/trader/deals", get(deals::list))
        .route("/trader/deals/{id}", get(deals::show))
        .route("/trader/deals/{id}/confirm", post(deals::confirm))
        .route("/trader/deals/{id}/resolve", post(deals::resolve))
        .route("/trader/payouts", get(payouts::list))
        .route("/trader/payouts/{id}/take", post(payouts::take))
        .route("/trader/payouts/{id}/done", post(payouts::done))
        .route("/trader/payouts/{id}/decline", post(payouts::decline))
        .route("/trader/cabinets", get(cabinets::list))
        .route("/trader/cabinets/{id}/active", post(cabinets::set_active))
        .route("/trader/bank", get(bank::list))
        .route("/trader/balances", get(balances::show))
        .layer(axum::middleware::from_fn(|r, n| {
            session::remember_lang(REALM.path, r, n)
        }))
        .layer(axum::middleware::map_response(crate::web::protect_response))
}

/// A signed-in person of a trader, and the trader, which must be active.
pub struct TraderUser {
    pub signed: Signed,
    pub lang: Lang,
    pub trader: Trader,
}

impl TraderUser {
    pub fn actor(&self) -> Actor {
        Actor::Trader(self.trader.id.clone())
    }
}

pub enum Rejection {
    NotSignedIn(NotSignedIn),
    Refused(Refusal),
}

/// A refusal of a panel page, shown with the way back to the panel.
pub struct PanelError(pub WebError);

impl From<WebError> for PanelError {
    fn from(e: WebError) -> Self {
        PanelError(e)
    }
}

impl IntoResponse for PanelError {
    fn into_response(self) -> Response {
        self.0.page_under(REALM.path)
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self {
            Rejection::NotSignedIn(NotSignedIn::Error(e)) => PanelError(e).into_response(),
            Rejection::NotSignedIn(r) => r.into_response(),
            Rejection::Refused(r) => r.into_response(),
        }
    }
}

impl FromRequestParts<AppState> for TraderUser {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Rejection> {
        let (signed, lang) = session::signed_in(app, &REALM, parts)
            .await
            .map_err(Rejection::NotSignedIn)?;
        let trader = app
            .engine
            .trader(signed.user.subject_id.clone())
            .await
            .map_err(|e| {
                Rejection::NotSignedIn(NotSignedIn::Error(WebError::from_engine(&e, lang)))
            })?;
        // A switched-off trader's token is refused by the API; its people
        // are refused here the same way.
        if !trader.active {
            return Err(Rejection::Refused(Refusal::new(
                StatusCode::FORBIDDEN,
                lang,
                words::TRADER_OFF,
            )));
        }
        Ok(TraderUser {
            signed,
            lang,
            trader,
        })
    }
}

async fn home(user: Result<TraderUser, Rejection>) -> Response {
    match user {
        Ok(_) => Redirect::to("/trader/deals").into_response(),
        Err(r) => r.into_response(),
    }
}

async fn sign_in_form(
    State(app): State<AppState>,
    PageLang(lang): PageLang,
    Query(q): Query<NextQuery>,
) -> Response {
    SIGN_IN.form(&app, lang, q.next.as_deref())
}

async fn sign_in(
    State(app): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, PanelError> {
    Ok(SIGN_IN.submit(&app, lang, &headers, body).await?)
}

async fn sign_out(
    State(app): State<AppState>,
    user: TraderUser,
    body: Body,
) -> Result<Response, PanelError> {
    Ok(SIGN_IN
        .sign_out(&app, &user.signed, user.lang, body)
        .await?)
}

/// The pages of the top bar.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Deals,
    Payouts,
    Cabinets,
    Bank,
    Balances,
}

impl Page {
    const ALL: [Page; 5] = [
        Page::Deals,
        Page::Payouts,
        Page::Cabinets,
        Page::Bank,
        Page::Balances,
    ];

    pub fn path(self) -> &'static str {
        match self {
            Page::Deals => "/trader/deals",
            Page::Payouts => "/trader/payouts",
            Page::Cabinets => "/trader/cabinets",
            Page::Bank => "/trader/bank",
            Page::Balances => "/trader/balances",
        }
    }

    fn label(self) -> Words {
        match self {
            Page::Deals => words::DEALS,
            Page::Payouts => words::PAYOUTS,
            Page::Cabinets => words::CABINETS,
            Page::Bank => words::BANK,
            Page::Balances => words::BALANCES,
        }
    }
}

/// A signed-in page: the top bar (pages, who, sign-out) around `main`.
pub fn panel_page(app: &AppState, user: &TraderUser, here: Page, main: Markup) -> Response {
    framed(app, user, here, main, false)
}

/// [`panel_page`] for a page watched while the money comes (the open
/// deals): it reloads itself, so new deals and the time left show without a
/// tap, and the notice of the last action goes.
pub fn watched_page(app: &AppState, user: &TraderUser, here: Page, main: Markup) -> Response {
    framed(app, user, here, main, true)
}

fn framed(app: &AppState, user: &TraderUser, here: Page, main: Markup, watched: bool) -> Response {
    let lang = user.lang;
    let bar = html! {
        nav {
            @for p in Page::ALL {
                a class=[(p == here).then_some("on")] href=(p.path()) { (lang.t(p.label())) }
            }
        }
        span.hide-sm.muted #who { (user.trader.name) " · " (user.signed.user.email) }
        form method="post" action="/trader/sign-out" {
            (csrf_field(app, user))
            button #sign-out type="submit" { (lang.t(words::SIGN_OUT)) }
        }
    };
    let body = html! {
        @if user.trader.test_mode { p.notice #test-trader { (lang.t(words::TEST_NOTE)) } }
        (main)
    };
    let title = lang.t(here.label());
    let markup = if watched {
        refreshing_page(lang, title, (WATCHED_REFRESH_SECS, here.path()), bar, body)
    } else {
        page(lang, title, bar, body)
    };
    (StatusCode::OK, Html(markup.into_string())).into_response()
}

pub fn csrf_field(app: &AppState, user: &TraderUser) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(user.signed.csrf(app)); }
}

/// What an action just did, named in the page it sends back to
/// (`?done=`), shown there once as a notice.
#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

impl Done {
    pub fn notice(&self, lang: Lang) -> Markup {
        let said = match self.done.as_deref() {
            Some("confirmed") => words::DONE_CONFIRMED,
            Some("resolved") => words::DONE_RESOLVED,
            Some("taken") => words::DONE_TAKEN,
            Some("paid") => words::DONE_PAID,
            Some("declined") => words::DONE_DECLINED,
            Some("switched") => words::DONE_SWITCHED,
            _ => return html! {},
        };
        html! { p.notice #done { (lang.t(said)) } }
    }
}

/// A refusal of an action that says why, with the way back.
pub struct Refusal {
    status: StatusCode,
    lang: Lang,
    said: Words,
    back: &'static str,
}

impl Refusal {
    fn new(status: StatusCode, lang: Lang, said: Words) -> Self {
        Refusal {
            status,
            lang,
            said,
            back: "/trader/sign-in",
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let lang = self.lang;
        let markup = page(
            lang,
            lang.t(words::PANEL),
            html! { a href="/trader" { (lang.t(words::PANEL)) } },
            html! { div.card {
                h1 { (self.status.as_u16()) }
                p.error #problem { (lang.t(self.said)) }
                a.btn.light #back href=(self.back) { (lang.t(words::BACK)) }
            } },
        );
        (self.status, Html(markup.into_string())).into_response()
    }
}

/// Why an action was not done, as a page: unknown (also another trader's)
/// is 404; changed meanwhile is 409; a bad field is 422 with `invalid`.
pub enum ActionError {
    Web(WebError),
    Refused(Refusal),
}

impl IntoResponse for ActionError {
    fn into_response(self) -> Response {
        match self {
            ActionError::Web(e) => PanelError(e).into_response(),
            ActionError::Refused(r) => r.into_response(),
        }
    }
}

impl From<WebError> for ActionError {
    fn from(e: WebError) -> Self {
        ActionError::Web(e)
    }
}

/// Reads an action's form (refused before anything is done without the
/// session's CSRF token).
pub async fn action_form<T: serde::de::DeserializeOwned>(
    app: &AppState,
    user: &TraderUser,
    body: Body,
) -> Result<T, ActionError> {
    Ok(read_form(app, Some(&user.signed.token), body, user.lang).await?)
}

/// An action's outcome: on success back to `back` with `?done=`; else why not.
pub fn after<T>(
    result: Result<T, EngineError>,
    lang: Lang,
    back: &'static str,
    done: &str,
    invalid: Words,
) -> Result<Response, ActionError> {
    match result {
        Ok(_) => Ok(Redirect::to(&format!("{back}?done={done}")).into_response()),
        Err(e @ (EngineError::Conflict(_) | EngineError::Invalid(_))) => {
            let (status, said) = match e {
                EngineError::Conflict(_) => (StatusCode::CONFLICT, words::CHANGED),
                _ => (StatusCode::UNPROCESSABLE_ENTITY, invalid),
            };
            Err(ActionError::Refused(Refusal {
                status,
                lang,
                said,
                back,
            }))
        }
        Err(e) => Err(ActionError::Web(WebError::from_engine(&e, lang))),
    }
}

/// A path's id, or 404 for one that cannot name anything.
pub fn path_id(id: &str, lang: Lang) -> Result<String, WebError> {
    if id.is_empty() || id.len() > 255 {
        return Err(WebError::new(StatusCode::NOT_FOUND, lang));
    }
    Ok(id.to_string())
}

/// How long until `deadline_secs`, as `4 min 05 s`; none once it passed.
pub fn time_left(now_secs: i64, deadline_secs: i64) -> Option<String> {
    let left = deadline_secs - now_secs;
    (left > 0).then(|| format!("{} min {:02} s", left / 60, left % 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_is_minutes_and_seconds_until_the_deadline() {
        assert_eq!(time_left(100, 100 + 65).as_deref(), Some("1 min 05 s"));
        assert_eq!(time_left(100, 101).as_deref(), Some("0 min 01 s"));
        assert_eq!(time_left(100, 100), None);
        assert_eq!(time_left(100, 40), None);
    }
}
