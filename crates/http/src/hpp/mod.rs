//! The hosted payment page (`hpp_url`): server-rendered, in English, Russian
//! and Ukrainian. Everything a merchant or customer supplied is escaped (maud
//! escapes every interpolation).
//!
//! An invoice with a P2P deal gets the P2P view ([`p2p`]) instead of the card
//! view. Every response carries the headers of [`guard`], and every post is
//! refused unless it carries the page's token and comes from the page.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use kassa_domain::money::format_fixed;
use kassa_domain::{Invoice, InvoiceStatus, Merchant};
use kassa_engine::EngineError;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use crate::checkout::{CheckoutError, ErrorBody};
use crate::AppState;

mod evidence;
mod guard;
mod p2p;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/hpp/{id}", get(page))
        .route("/hpp/{id}/complete", post(complete))
        .route("/hpp/{id}/fail", post(fail))
        .route("/hpp/{id}/paid", post(p2p::paid))
        .route("/hpp/{id}/evidence", post(evidence::upload))
        .layer(axum::middleware::map_response(guard::protect_response))
}

pub use crate::web::Lang;

const TITLE: (&str, &str, &str) = ("Payment", "Оплата", "Оплата");
const TO_PAY: (&str, &str, &str) = ("Amount to pay", "Сумма к оплате", "Сума до сплати");
const MERCHANT: (&str, &str, &str) = ("Merchant", "Продавец", "Продавець");
const DESCRIPTION: (&str, &str, &str) = ("Description", "Описание", "Опис");
const TIME_LEFT: (&str, &str, &str) = ("Time left", "Осталось времени", "Залишилось часу");
const STATUS: (&str, &str, &str) = ("Status", "Статус", "Статус");
const TEST_NOTE: (&str, &str, &str) = (
    "Test payment: no money moves. Choose the outcome.",
    "Тестовый платёж: деньги не списываются. Выберите результат.",
    "Тестовий платіж: гроші не списуються. Оберіть результат.",
);
const COMPLETE: (&str, &str, &str) = ("Complete payment", "Завершить оплату", "Завершити оплату");
const FAIL: (&str, &str, &str) = ("Fail payment", "Отклонить оплату", "Відхилити оплату");
const WAITING: (&str, &str, &str) = (
    "Waiting for the payment provider to confirm the payment.",
    "Ожидаем подтверждения платежа от провайдера.",
    "Очікуємо підтвердження платежу від провайдера.",
);
const BACK: (&str, &str, &str) = (
    "Return to the store",
    "Вернуться в магазин",
    "Повернутися до магазину",
);
const ERRORS: (&str, &str, &str) = (
    "The payment could not be started",
    "Не удалось начать оплату",
    "Не вдалося розпочати оплату",
);

fn status_text(lang: Lang, status: InvoiceStatus) -> &'static str {
    use InvoiceStatus::*;
    lang.t(match status {
        Created | ProcessPending => ("Awaiting payment", "Ожидает оплаты", "Очікує оплати"),
        Processing => ("Processing", "Обрабатывается", "Обробляється"),
        Processed | PartiallyProcessed => ("Paid", "Оплачено", "Сплачено"),
        ProcessFailed => ("Payment failed", "Оплата не прошла", "Оплата не пройшла"),
        Expired => ("Expired", "Срок истёк", "Термін минув"),
        Terminated => ("Cancelled", "Отменено", "Скасовано"),
        Refunding | Refunded | PartiallyRefunded | RefundFailed => {
            ("Refunded", "Возвращено", "Повернуто")
        }
        Verified => ("Card verified", "Карта проверена", "Картку перевірено"),
        VerifyFailed => (
            "Card not verified",
            "Карта не прошла проверку",
            "Картку не перевірено",
        ),
    })
}

fn time_left(lang: Lang, secs: i64) -> String {
    let secs = secs.max(0);
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match lang {
        Lang::En => format!("{h} h {m:02} min {s:02} s"),
        Lang::Ru => format!("{h} ч {m:02} мин {s:02} с"),
        Lang::Uk => format!("{h} год {m:02} хв {s:02} с"),
    }
}

pub(super) const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;padding:2rem}\
main{max-width:28rem;margin:auto;background:#fff;border-radius:12px;padding:2rem;box-shadow:0 2px 12px #0001}\
h1{font-size:1.3rem;margin-top:0}.amount{font-size:2rem;font-weight:700;margin:.5rem 0 1rem}\
dl{display:grid;grid-template-columns:auto 1fr;gap:.4rem 1rem}dt{color:#667}dd{margin:0}\
.inline{display:inline}button{font-size:1rem;padding:.7rem 1.2rem;border-radius:8px;border:0;cursor:pointer;margin:.3rem .3rem 0 0}\
.ok{background:#1a7f37;color:#fff}.no{background:#cf222e;color:#fff}.note{background:#fff8c5;padding:.6rem;border-radius:6px}\
nav{margin-top:1.5rem;font-size:.85rem}nav a{margin-right:.6rem}";

fn layout(lang: Lang, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) }
                style { (maud::PreEscaped(STYLE)) (maud::PreEscaped(p2p::P2P_STYLE)) }
            }
            body { main { (body) } }
        }
    }
}

/// Where the customer goes once the invoice is final, if the merchant said.
fn return_target(invoice: &Invoice) -> Option<&str> {
    let urls = invoice.return_urls.as_ref();
    let chosen = if invoice.status.ended_well() {
        urls.and_then(|u| u.success.as_deref())
    } else if invoice.status.is_final() {
        urls.and_then(|u| u.fail.as_deref())
    } else {
        None
    };
    chosen.or(if invoice.status.is_final() {
        invoice.return_url.as_deref()
    } else {
        None
    })
}

/// Sends the customer to a URL the merchant gave. It was checked as a URL
/// when the invoice was made, but the parser forgives what a `Location`
/// header cannot carry (newlines, tabs, raw non-ASCII), so the parsed form is
/// sent: it says the same and is always a valid header value.
fn redirect_to(url: &str) -> Response {
    match url::Url::parse(url) {
        Ok(parsed) => Redirect::to(parsed.as_str()).into_response(),
        Err(_) => Redirect::to(url).into_response(),
    }
}

/// A form that posts to `action` with the page's token and one button.
fn post_form(action: &str, token: &str, button: Markup) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            input type="hidden" name=(guard::TOKEN_FIELD) value=(token);
            (button)
        }
    }
}

fn render_page(
    lang: Lang,
    invoice: &Invoice,
    merchant: &Merchant,
    now_secs: i64,
    token: &str,
) -> Markup {
    let amount = format_fixed(invoice.amount_minor, invoice.currency.exponent());
    let left = invoice.expires_at_secs - now_secs;
    let testable =
        invoice.status.is_open() && (invoice.test_mode || invoice.service_flow == "test");
    let back = invoice
        .return_urls
        .as_ref()
        .map(|u| u.pending.as_str())
        .filter(|u| !u.is_empty())
        .or(invoice.return_url.as_deref());
    layout(
        lang,
        lang.t(TITLE),
        html! {
            h1 { (lang.t(TITLE)) }
            div { (lang.t(TO_PAY)) }
            div.amount #amount { (amount) " " (invoice.currency.code()) }
            dl {
                dt { (lang.t(MERCHANT)) } dd #merchant { (merchant.name) }
                @if let Some(d) = &invoice.description {
                    dt { (lang.t(DESCRIPTION)) } dd #description { (d) }
                }
                dt { (lang.t(STATUS)) } dd #status data-status=(invoice.status.as_str()) { (status_text(lang, invoice.status)) }
                @if invoice.status.is_open() {
                    dt { (lang.t(TIME_LEFT)) } dd #time-left data-seconds=(left.max(0)) { (time_left(lang, left)) }
                }
            }
            @if testable {
                p.note { (lang.t(TEST_NOTE)) }
                (post_form(
                    &format!("/hpp/{}/complete?lang={}", invoice.id, lang.code()),
                    token,
                    html! { button.ok #complete type="submit" { (lang.t(COMPLETE)) } },
                ))
                (post_form(
                    &format!("/hpp/{}/fail?lang={}", invoice.id, lang.code()),
                    token,
                    html! { button.no #fail type="submit" { (lang.t(FAIL)) } },
                ))
            } @else if invoice.status.is_open() {
                p { (lang.t(WAITING)) }
            }
            @if let Some(url) = back {
                p { a #back href=(url) { (lang.t(BACK)) } }
            }
            nav {
                a href={ "?lang=en" } { "English" }
                a href={ "?lang=ru" } { "Русский" }
                a href={ "?lang=uk" } { "Українська" }
            }
            @if invoice.status.is_open() {
                script { (maud::PreEscaped(COUNTDOWN)) }
            }
        },
    )
}

/// Counts the time left down in the browser and reloads when it runs out or
/// every 15 s, so that an outcome reported meanwhile takes the customer on.
pub(super) const COUNTDOWN: &str = r#"(function(){var el=document.getElementById('time-left');if(!el)return;
var left=parseInt(el.dataset.seconds,10),t=el.textContent,start=Date.now();
var u=t.replace(/[0-9]+/g,'#').split('#');
setInterval(function(){var s=Math.max(0,left-Math.floor((Date.now()-start)/1000));
var p=[Math.floor(s/3600),('0'+Math.floor(s%3600/60)).slice(-2),('0'+s%60).slice(-2)];
el.textContent=u[0]+p[0]+u[1]+p[1]+u[2]+p[2]+(u[3]||'');
if(s===0||(Date.now()-start)%15000<1000&&Date.now()-start>1000)location.reload();},1000);})();"#;

#[derive(Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

fn page_error(lang: Lang, e: EngineError) -> Response {
    let (status, text) = match e {
        EngineError::NotFound => (
            StatusCode::NOT_FOUND,
            lang.t((
                "Payment not found.",
                "Платёж не найден.",
                "Платіж не знайдено.",
            )),
        ),
        EngineError::Forbidden(_) => (
            StatusCode::FORBIDDEN,
            lang.t((
                "This action is not allowed.",
                "Это действие недоступно.",
                "Ця дія недоступна.",
            )),
        ),
        EngineError::Unavailable(why) => {
            tracing::warn!(%why, "database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                lang.t((
                    "The payment page is briefly unavailable. Try again in a moment.",
                    "Страница оплаты временно недоступна. Попробуйте через минуту.",
                    "Сторінка оплати тимчасово недоступна. Спробуйте за хвилину.",
                )),
            )
        }
        other => {
            tracing::error!(error = %other, "hosted page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                lang.t((
                    "Something went wrong. Try again.",
                    "Что-то пошло не так. Попробуйте ещё раз.",
                    "Щось пішло не так. Спробуйте ще раз.",
                )),
            )
        }
    };
    let mut response = message_page(lang, status, text);
    crate::retry_after_if_unavailable(&mut response);
    response
}

fn message_page(lang: Lang, status: StatusCode, text: &str) -> Response {
    (
        status,
        Html(layout(lang, text, html! { h1 { (text) } }).into_string()),
    )
        .into_response()
}

/// A post that did not come from the page: refused, nothing changed.
fn refused(lang: Lang) -> Response {
    message_page(
        lang,
        StatusCode::FORBIDDEN,
        lang.t((
            "This request did not come from the payment page. Open the page and try again.",
            "Запрос отправлен не со страницы оплаты. Откройте страницу и попробуйте ещё раз.",
            "Запит надіслано не зі сторінки оплати. Відкрийте сторінку і спробуйте ще раз.",
        )),
    )
}

/// A rendered page of `merchant`'s invoice, never cached, framed only where the
/// merchant allows.
fn page_response(merchant: &Merchant, markup: Markup) -> Response {
    let mut response = (
        [(header::CACHE_CONTROL, "no-store")],
        Html(markup.into_string()),
    )
        .into_response();
    guard::protect(response.headers_mut(), &merchant.frame_ancestors);
    response
}

async fn page(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    match app.engine.invoice_for_page(id).await {
        Ok((invoice, merchant)) => {
            if invoice.deal_id.is_some() {
                return p2p::p2p_page(&app, lang, invoice, merchant).await;
            }
            if let Some(url) = return_target(&invoice) {
                return redirect_to(url);
            }
            let token = app.engine.page_token(&invoice.id);
            let markup = render_page(lang, &invoice, &merchant, app.engine.now_secs(), &token);
            page_response(&merchant, markup)
        }
        Err(e) => page_error(lang, e),
    }
}

async fn settle(
    app: AppState,
    id: String,
    lang: Lang,
    headers: HeaderMap,
    body: Body,
    succeed: bool,
) -> Response {
    if !guard::post_from_page(&app, &id, &headers, body).await {
        return refused(lang);
    }
    // A P2P invoice is settled by its deal (the trader, the bank, a
    // dispute), never by the test controls: they would leave the deal open.
    match app.engine.invoice_with_deal(id.clone()).await {
        Ok((_, Some(_))) => {
            return page_error(
                lang,
                EngineError::Forbidden("A P2P payment is settled by its deal.".into()),
            )
        }
        Ok((_, None)) => {}
        Err(e) => return page_error(lang, e),
    }
    match app.engine.settle_test_payment(id, succeed).await {
        Ok(invoice) => match return_target(&invoice) {
            Some(url) => redirect_to(url),
            None => {
                Redirect::to(&format!("/hpp/{}?lang={}", invoice.id, lang.code())).into_response()
            }
        },
        Err(e) => page_error(lang, e),
    }
}

async fn complete(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    settle(app, id, lang, headers, body, true).await
}

async fn fail(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    settle(app, id, lang, headers, body, false).await
}

/// A payment link whose form was wrong: the customer sees what, the merchant
/// can fix it.
pub fn form_error_page(e: &CheckoutError) -> Response {
    let lang = Lang::En;
    let lines: Vec<String> = match e.body() {
        ErrorBody::Fields(f) => f.errors.iter().map(|(k, v)| format!("{k}: {v}")).collect(),
        ErrorBody::List(l) => l
            .errors
            .iter()
            .map(|i| match &i.detail {
                Some(d) => format!("{}: {d}", i.status),
                None => i.status.clone(),
            })
            .collect(),
    };
    let markup = layout(
        lang,
        lang.t(ERRORS),
        html! {
            h1 { (lang.t(ERRORS)) }
            ul #errors { @for line in &lines { li { (line) } } }
        },
    );
    let mut response = (e.status(), Html(markup.into_string())).into_response();
    guard::protect(response.headers_mut(), &[]);
    response
}
