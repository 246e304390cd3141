//! The hosted payment page (`hpp_url`): server-rendered, in English, Russian
//! and Ukrainian. Everything a merchant or customer supplied is escaped (maud
//! escapes every interpolation).
//!
//! An invoice with a P2P deal gets the P2P view instead of the card view: the
//! exact amount to transfer, the trader's requisites (in full: the customer
//! transfers to them; they are never logged), the deal's deadline, a QR code
//! of the SBP link for SBP deals, and an "I have paid" button.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use kassa_domain::money::format_fixed;
use kassa_domain::{Deal, DealStatus, Invoice, InvoiceStatus, Merchant};
use kassa_engine::EngineError;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use crate::checkout::CheckoutError;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/hpp/{id}", get(page))
        .route("/hpp/{id}/complete", post(complete))
        .route("/hpp/{id}/fail", post(fail))
        .route("/hpp/{id}/paid", post(paid))
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ru,
    Uk,
}

impl Lang {
    fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
            Lang::Uk => "uk",
        }
    }

    fn parse(code: &str) -> Option<Lang> {
        match code.get(..2)?.to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "ru" => Some(Lang::Ru),
            "uk" => Some(Lang::Uk),
            _ => None,
        }
    }

    /// `?lang=` first, then the first of Accept-Language that we speak.
    fn choose(query: Option<&str>, headers: &HeaderMap) -> Lang {
        query
            .and_then(Lang::parse)
            .or_else(|| {
                headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.split(',').find_map(|part| Lang::parse(part.trim())))
            })
            .unwrap_or(Lang::En)
    }

    /// The page's words: (en, ru, uk) chosen by `self`.
    fn t(self, words: (&'static str, &'static str, &'static str)) -> &'static str {
        match self {
            Lang::En => words.0,
            Lang::Ru => words.1,
            Lang::Uk => words.2,
        }
    }
}

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

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;padding:2rem}\
main{max-width:28rem;margin:auto;background:#fff;border-radius:12px;padding:2rem;box-shadow:0 2px 12px #0001}\
h1{font-size:1.3rem;margin-top:0}.amount{font-size:2rem;font-weight:700;margin:.5rem 0 1rem}\
dl{display:grid;grid-template-columns:auto 1fr;gap:.4rem 1rem}dt{color:#667}dd{margin:0}\
button{font-size:1rem;padding:.7rem 1.2rem;border-radius:8px;border:0;cursor:pointer;margin:.3rem .3rem 0 0}\
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
                style { (maud::PreEscaped(STYLE)) (maud::PreEscaped(P2P_STYLE)) }
            }
            body { main { (body) } }
        }
    }
}

/// Where the customer goes once the invoice is final, if the merchant said.
fn return_target(invoice: &Invoice) -> Option<&str> {
    let urls = invoice.return_urls.as_ref();
    let chosen = if invoice.status.is_success() {
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

fn render_page(lang: Lang, invoice: &Invoice, merchant: &Merchant, now_secs: i64) -> Markup {
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
                form method="post" action={ "/hpp/" (invoice.id) "/complete?lang=" (lang.code()) } style="display:inline" {
                    button.ok #complete type="submit" { (lang.t(COMPLETE)) }
                }
                form method="post" action={ "/hpp/" (invoice.id) "/fail?lang=" (lang.code()) } style="display:inline" {
                    button.no #fail type="submit" { (lang.t(FAIL)) }
                }
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
const COUNTDOWN: &str = r#"(function(){var el=document.getElementById('time-left');if(!el)return;
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
    let mut response = (
        status,
        Html(layout(lang, text, html! { h1 { (text) } }).into_string()),
    )
        .into_response();
    crate::retry_after_if_unavailable(&mut response);
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
                return p2p_page(&app, lang, invoice, merchant).await;
            }
            if let Some(url) = return_target(&invoice) {
                return redirect_to(url);
            }
            let markup = render_page(lang, &invoice, &merchant, app.engine.now_secs());
            (
                [(header::CACHE_CONTROL, "no-store")],
                Html(markup.into_string()),
            )
                .into_response()
        }
        Err(e) => page_error(lang, e),
    }
}

async fn settle(app: AppState, id: String, lang: Lang, succeed: bool) -> Response {
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
) -> Response {
    settle(app, id, Lang::choose(q.lang.as_deref(), &headers), true).await
}

async fn fail(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    settle(app, id, Lang::choose(q.lang.as_deref(), &headers), false).await
}

// ---------------------------------------------------------------------------
// The P2P view
// ---------------------------------------------------------------------------

const TO_TRANSFER: (&str, &str, &str) = ("Amount to transfer", "Сумма перевода", "Сума переказу");
const EXACT: (&str, &str, &str) = (
    "Transfer exactly this amount, to the kopeck: not rounded, not split, in one transfer. A payment of any other amount cannot be matched to your order.",
    "Переведите ровно эту сумму, с точностью до копейки: без округления, одним переводом. Платёж на другую сумму невозможно сопоставить с вашим заказом.",
    "Переказуйте рівно цю суму, з точністю до копійки: без округлення, одним переказом. Платіж на іншу суму неможливо зіставити з вашим замовленням.",
);
const EXACT_WHOLE: (&str, &str, &str) = (
    "Transfer exactly this amount: not rounded, not split, in one transfer. A payment of any other amount cannot be matched to your order.",
    "Переведите ровно эту сумму: без округления, одним переводом. Платёж на другую сумму невозможно сопоставить с вашим заказом.",
    "Переказуйте рівно цю суму: без округлення, одним переказом. Платіж на іншу суму неможливо зіставити з вашим замовленням.",
);
const TRANSFER_TO: (&str, &str, &str) = ("Transfer to", "Куда перевести", "Куди переказати");
const HOLDER: (&str, &str, &str) = ("Recipient", "Получатель", "Отримувач");
const BANK: (&str, &str, &str) = ("Bank", "Банк", "Банк");
const COPY: (&str, &str, &str) = ("Copy", "Копировать", "Копіювати");
const QR_HINT: (&str, &str, &str) = (
    "Scan the code with your phone's camera or your bank's app, or open the link on your phone:",
    "Отсканируйте код камерой телефона или в приложении банка, или откройте ссылку на телефоне:",
    "Відскануйте код камерою телефону або в застосунку банку, або відкрийте посилання на телефоні:",
);
const PAID_BUTTON: (&str, &str, &str) = ("I have paid", "Я оплатил", "Я сплатив");
const PAID_HINT: (&str, &str, &str) = (
    "Press the button once you have made the transfer.",
    "Нажмите кнопку, когда сделаете перевод.",
    "Натисніть кнопку, коли зробите переказ.",
);
const CHECKING: (&str, &str, &str) = (
    "Thank you! Your payment is being checked. This page updates by itself.",
    "Спасибо! Ваш платёж проверяется. Страница обновится сама.",
    "Дякуємо! Ваш платіж перевіряється. Сторінка оновиться сама.",
);
const COMPLETED: (&str, &str, &str) = (
    "The payment has been received. Thank you!",
    "Платёж получен. Спасибо!",
    "Платіж отримано. Дякуємо!",
);
const TIMED_OUT: (&str, &str, &str) = (
    "The time to pay has run out. Do not transfer money to these requisites any more. If you have already transferred it, press \"I have paid\" and we will check the payment.",
    "Время на оплату истекло. Больше не переводите деньги по этим реквизитам. Если вы уже перевели их, нажмите «Я оплатил», и мы проверим платёж.",
    "Час на оплату вичерпано. Більше не переказуйте гроші за цими реквізитами. Якщо ви вже переказали їх, натисніть «Я сплатив», і ми перевіримо платіж.",
);
const NOT_CONFIRMED: (&str, &str, &str) = (
    "The payment was not confirmed. If you think this is a mistake, contact the merchant.",
    "Платёж не подтверждён. Если вы считаете это ошибкой, свяжитесь с продавцом.",
    "Платіж не підтверджено. Якщо ви вважаєте це помилкою, зверніться до продавця.",
);

fn requisite_label(lang: Lang, method: &str) -> &'static str {
    lang.t(match method {
        "card" => ("Card number", "Номер карты", "Номер картки"),
        "sbp" => (
            "Phone number (SBP)",
            "Номер телефона (СБП)",
            "Номер телефону (СБП)",
        ),
        _ => ("Account number", "Номер счёта", "Номер рахунку"),
    })
}

/// What the deal's state means for the customer. A cancelled deal that
/// people decided on (`settled_by`) is not the same as one that ran out.
fn deal_status_text(lang: Lang, deal: &Deal) -> &'static str {
    lang.t(match deal.status {
        DealStatus::TransferWaiting if deal.customer_says_paid_at_secs.is_some() => (
            "Payment being checked",
            "Платёж проверяется",
            "Платіж перевіряється",
        ),
        DealStatus::TransferWaiting => (
            "Waiting for your transfer",
            "Ожидаем ваш перевод",
            "Очікуємо ваш переказ",
        ),
        DealStatus::Completed => ("Paid", "Оплачено", "Сплачено"),
        DealStatus::Canceled if deal.settled_by.is_some() => {
            ("Not confirmed", "Не подтверждено", "Не підтверджено")
        }
        DealStatus::Canceled => (
            "Cancelled: the time ran out",
            "Отменено: время истекло",
            "Скасовано: час вичерпано",
        ),
        DealStatus::Disputed => (
            "Payment being checked",
            "Платёж проверяется",
            "Платіж перевіряється",
        ),
    })
}

/// A card number in groups of four (`2200 1234 5678 9012`), easier to type
/// over; anything else as it is.
fn display_requisite(method: &str, requisite: &str) -> String {
    let card_like =
        (12..=19).contains(&requisite.len()) && requisite.bytes().all(|b| b.is_ascii_digit());
    if method != "card" || !card_like {
        return requisite.to_string();
    }
    requisite
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).expect("ASCII digits"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The QR code of `link` as inline SVG (`<svg id="qr" ...>`), rendered here:
/// the page loads nothing from elsewhere.
fn qr_svg(link: &str) -> Option<String> {
    let code =
        qrcode::QrCode::with_error_correction_level(link.as_bytes(), qrcode::EcLevel::M).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build();
    // Inline SVG in HTML takes no XML declaration.
    let start = svg.find("<svg ")?;
    Some(svg[start..].replacen("<svg ", r#"<svg id="qr" role="img" aria-label="QR" "#, 1))
}

const P2P_STYLE: &str = ".warn{background:#fff1e5;border-left:4px solid #d1242f;padding:.6rem .8rem;border-radius:6px;font-size:.95rem}\
.req{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:1.2rem;font-weight:600;letter-spacing:.03em}\
.copy{font-size:.8rem;padding:.2rem .5rem;margin:0 0 0 .5rem;background:#eef;color:#224;vertical-align:middle}\
.qr{text-align:center;margin:1rem 0}.qr svg{width:220px;height:220px}.qr p{font-size:.85rem;color:#556}.qr a{word-break:break-all}\
.checking{background:#ddf4ff;padding:.6rem;border-radius:6px}.paid{background:#dafbe1;padding:.6rem;border-radius:6px}\
h2{font-size:1.05rem;margin:1.2rem 0 .3rem}.hint{font-size:.85rem;color:#667}";

/// Copies `data-copy` of a pressed `.copy` button to the clipboard.
const COPY_SCRIPT: &str = r#"document.querySelectorAll('.copy').forEach(function(b){b.addEventListener('click',function(){var v=b.dataset.copy;if(navigator.clipboard){navigator.clipboard.writeText(v);}});});"#;

/// Reloads the page every 15 s while people or the bank decide.
const REFRESH: &str = "setTimeout(function(){location.reload();},15000);";

fn render_p2p(
    lang: Lang,
    invoice: &Invoice,
    deal: &Deal,
    merchant: &Merchant,
    now_secs: i64,
) -> Markup {
    let currency = invoice.currency;
    let amount = format_fixed(deal.amount_minor, currency.exponent());
    let left = deal.deadline_secs - now_secs;
    let waiting = deal.status == DealStatus::TransferWaiting;
    let said_paid = deal.customer_says_paid_at_secs.is_some();
    let timed_out = deal.status == DealStatus::Canceled && deal.settled_by.is_none();
    let checking = deal.status == DealStatus::Disputed || (waiting && said_paid);
    let show_requisites = waiting;
    let paid_button = (waiting && !said_paid) || timed_out;
    let qr = if show_requisites {
        deal.qr_code_link().map(|link| {
            let svg = qr_svg(&link);
            (link, svg)
        })
    } else {
        None
    };
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
            dl {
                dt { (lang.t(MERCHANT)) } dd #merchant { (merchant.name) }
                @if let Some(d) = &invoice.description {
                    dt { (lang.t(DESCRIPTION)) } dd #description { (d) }
                }
                dt { (lang.t(STATUS)) }
                dd #status data-status=(invoice.status.as_str()) data-deal-status=(deal.status.as_str()) {
                    (deal_status_text(lang, deal))
                }
                @if waiting {
                    dt { (lang.t(TIME_LEFT)) } dd #time-left data-seconds=(left.max(0)) { (time_left(lang, left)) }
                }
            }
            @if show_requisites || deal.status == DealStatus::Completed {
                div { (lang.t(if show_requisites { TO_TRANSFER } else { TO_PAY })) }
                div.amount {
                    span #amount data-amount=(amount) data-currency=(currency.code()) {
                        (amount) " " (currency.code())
                    }
                    @if show_requisites {
                        button.copy type="button" data-copy=(amount) { (lang.t(COPY)) }
                    }
                }
            }
            @if show_requisites {
                p.warn #exact-warning {
                    (lang.t(if currency.exponent() > 0 { EXACT } else { EXACT_WHOLE }))
                }
                h2 { (lang.t(TRANSFER_TO)) }
                dl #requisites data-method=(deal.method) {
                    dt { (requisite_label(lang, &deal.method)) }
                    dd {
                        span.req #requisite { (display_requisite(&deal.method, &deal.requisite)) }
                        button.copy type="button" data-copy=(deal.requisite) { (lang.t(COPY)) }
                    }
                    dt { (lang.t(HOLDER)) } dd #holder { (deal.holder) }
                    dt { (lang.t(BANK)) } dd #bank { (deal.bank_name) }
                }
                @if let Some((link, svg)) = &qr {
                    div.qr {
                        @if let Some(svg) = svg {
                            (maud::PreEscaped(svg))
                        }
                        p { (lang.t(QR_HINT)) br; a #qr-link href=(link) { (link) } }
                    }
                }
            }
            @if deal.status == DealStatus::Completed {
                p.paid #paid-message { (lang.t(COMPLETED)) }
            }
            @if checking {
                p.checking #checking { (lang.t(CHECKING)) }
            }
            @if timed_out {
                p.warn #timed-out { (lang.t(TIMED_OUT)) }
            } @else if deal.status == DealStatus::Canceled {
                p.warn #not-confirmed { (lang.t(NOT_CONFIRMED)) }
            }
            @if paid_button {
                form method="post" action={ "/hpp/" (invoice.id) "/paid?lang=" (lang.code()) } {
                    button.ok #paid type="submit" { (lang.t(PAID_BUTTON)) }
                }
                @if waiting {
                    p.hint { (lang.t(PAID_HINT)) }
                }
            }
            @if let Some(url) = back {
                p { a #back href=(url) { (lang.t(BACK)) } }
            }
            nav {
                a href={ "?lang=en" } { "English" }
                a href={ "?lang=ru" } { "Русский" }
                a href={ "?lang=uk" } { "Українська" }
            }
            @if show_requisites {
                script { (maud::PreEscaped(COPY_SCRIPT)) }
            }
            @if waiting && left > 0 {
                script { (maud::PreEscaped(COUNTDOWN)) }
            } @else if checking || waiting {
                script { (maud::PreEscaped(REFRESH)) }
            }
        },
    )
}

/// The page of an invoice with a deal.
async fn p2p_page(app: &AppState, lang: Lang, invoice: Invoice, merchant: Merchant) -> Response {
    let (invoice, deal) = match app.engine.invoice_with_deal(invoice.id.clone()).await {
        Ok(found) => found,
        Err(e) => return page_error(lang, e),
    };
    let markup = match &deal {
        Some(deal) => {
            // A deal that ran out keeps the customer here: "I have paid" is
            // still theirs to press.
            let stay = deal.status == DealStatus::Canceled && deal.settled_by.is_none();
            if let (false, Some(url)) = (stay, return_target(&invoice)) {
                return redirect_to(url);
            }
            render_p2p(lang, &invoice, deal, &merchant, app.engine.now_secs())
        }
        None => render_page(lang, &invoice, &merchant, app.engine.now_secs()),
    };
    (
        [(header::CACHE_CONTROL, "no-store")],
        Html(markup.into_string()),
    )
        .into_response()
}

/// "I have paid": noted before the deadline, a dispute after it.
async fn paid(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    match app.engine.customer_says_paid(id).await {
        Ok(deal) => {
            Redirect::to(&format!("/hpp/{}?lang={}", deal.invoice_id, lang.code())).into_response()
        }
        Err(e) => page_error(lang, e),
    }
}

/// A payment link whose form was wrong: the customer sees what, the merchant
/// can fix it.
pub fn form_error_page(e: &CheckoutError) -> Response {
    let lang = Lang::En;
    let body = e.body();
    let lines: Vec<String> = match &body["errors"] {
        serde_json::Value::Object(fields) => fields
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default()))
            .collect(),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|i| {
                let status = i["status"].as_str().unwrap_or_default();
                match i["detail"].as_str() {
                    Some(d) => format!("{status}: {d}"),
                    None => status.to_string(),
                }
            })
            .collect(),
        _ => Vec::new(),
    };
    let markup = layout(
        lang,
        lang.t(ERRORS),
        html! {
            h1 { (lang.t(ERRORS)) }
            ul #errors { @for line in &lines { li { (line) } } }
        },
    );
    (e.status(), Html(markup.into_string())).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SVG's dark modules as a greyscale picture, read back by a QR
    /// decoder: the customer's camera sees the link.
    #[test]
    fn the_qr_code_reads_back_as_the_link() {
        let link = "https://www.sberbank.com/sms/pbpn?requisiteNumber=79967779977";
        let svg = qr_svg(link).expect("a QR code");
        assert!(svg.starts_with(r#"<svg id="qr" "#), "{svg}");
        assert!(!svg.contains("<?xml"));
        let number = |name: &str| -> usize {
            let at = svg.find(&format!(" {name}=\"")).expect(name) + name.len() + 3;
            svg[at..].split('"').next().unwrap().parse().unwrap()
        };
        let (w, h) = (number("width"), number("height"));
        assert!(w >= 220 && w == h, "{w}x{h}");
        let d_at = svg.find(" d=\"").expect("a path") + 4;
        let d = svg[d_at..].split('"').next().unwrap();
        let mut pixels = vec![255u8; w * h];
        for rect in d.split('M').filter(|r| !r.is_empty()) {
            let n: Vec<usize> = rect
                .split([' ', 'h', 'v', 'H', 'V'])
                .map(|v| v.parse().expect("a number"))
                .collect();
            let (left, top, width, height) = (n[0], n[1], n[2], n[3]);
            for y in top..top + height {
                for x in left..left + width {
                    pixels[y * w + x] = 0;
                }
            }
        }
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, content) = grids[0].decode().expect("decodes");
        assert_eq!(content, link);
    }

    #[test]
    fn card_numbers_are_grouped_and_other_requisites_kept() {
        assert_eq!(
            display_requisite("card", "2200123456789012"),
            "2200 1234 5678 9012"
        );
        assert_eq!(
            display_requisite("card", "2200123456789012345"),
            "2200 1234 5678 9012 345"
        );
        assert_eq!(display_requisite("card", "2200 1234"), "2200 1234");
        assert_eq!(display_requisite("sbp", "+79967779977"), "+79967779977");
        assert_eq!(
            display_requisite("account", "40817810099910004312"),
            "40817810099910004312"
        );
    }
}
