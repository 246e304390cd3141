//! The P2P view of the hosted page: the exact amount to transfer, the
//! trader's requisites (in full: the customer transfers to them; they are
//! never logged), the deal's deadline, a QR code of the SBP link for SBP
//! deals, and an "I have paid" button.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use kassa_domain::money::format_fixed;
use kassa_domain::{Deal, DealStatus, Invoice, Merchant};
use maud::{html, Markup};

use super::*;

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
const CHECKING_SEND: (&str, &str, &str) = (
    "Thank you! Your payment is being checked. You can send its receipt below; reload the page to see the outcome.",
    "Спасибо! Ваш платёж проверяется. Ниже можно отправить чек; обновите страницу, чтобы увидеть результат.",
    "Дякуємо! Ваш платіж перевіряється. Нижче можна надіслати квитанцію; оновіть сторінку, щоб побачити результат.",
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

pub(super) const P2P_STYLE: &str = ".warn{background:#fff1e5;border-left:4px solid #d1242f;padding:.6rem .8rem;border-radius:6px;font-size:.95rem}\
.req{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:1.2rem;font-weight:600;letter-spacing:.03em}\
.copy{font-size:.8rem;padding:.2rem .5rem;margin:0 0 0 .5rem;background:#eef;color:#224;vertical-align:middle}\
.qr{text-align:center;margin:1rem 0}.qr svg{width:220px;height:220px}.qr p{font-size:.85rem;color:#556}.qr a{word-break:break-all}\
.checking{background:#ddf4ff;padding:.6rem;border-radius:6px}.paid{background:#dafbe1;padding:.6rem;border-radius:6px}\
h2{font-size:1.05rem;margin:1.2rem 0 .3rem}.hint{font-size:.85rem;color:#667}\
#evidence select,#evidence textarea{width:100%;box-sizing:border-box;font:inherit;padding:.3rem}";

/// Copies `data-copy` of a pressed `.copy` button to the clipboard.
pub(super) const COPY_SCRIPT: &str = r#"document.querySelectorAll('.copy').forEach(function(b){b.addEventListener('click',function(){var v=b.dataset.copy;if(navigator.clipboard){navigator.clipboard.writeText(v);}});});"#;

/// Reloads the page every 15 s while people or the bank decide.
pub(super) const REFRESH: &str = "setTimeout(function(){location.reload();},15000);";

fn render_p2p(
    lang: Lang,
    invoice: &Invoice,
    deal: &Deal,
    merchant: &Merchant,
    now_secs: i64,
    token: &str,
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
    // A reload would lose a file being chosen.
    let evidence_form = super::evidence::shown(deal, now_secs);
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
                p.checking #checking { (lang.t(if evidence_form { CHECKING_SEND } else { CHECKING })) }
            }
            @if timed_out {
                p.warn #timed-out { (lang.t(TIMED_OUT)) }
            } @else if deal.status == DealStatus::Canceled {
                p.warn #not-confirmed { (lang.t(NOT_CONFIRMED)) }
            }
            @if paid_button {
                (post_form(
                    &format!("/hpp/{}/paid?lang={}", invoice.id, lang.code()),
                    token,
                    html! { button.ok #paid type="submit" { (lang.t(PAID_BUTTON)) } },
                ))
                @if waiting {
                    p.hint { (lang.t(PAID_HINT)) }
                }
            }
            (super::evidence::section(lang, &invoice.id, deal, now_secs, token))
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
            @if evidence_form {
            } @else if waiting && left > 0 {
                script { (maud::PreEscaped(COUNTDOWN)) }
            } @else if checking || waiting {
                script { (maud::PreEscaped(REFRESH)) }
            }
        },
    )
}

/// The page of an invoice with a deal.
pub(super) async fn p2p_page(
    app: &AppState,
    lang: Lang,
    invoice: Invoice,
    merchant: Merchant,
) -> Response {
    let (invoice, deal) = match app.engine.invoice_with_deal(invoice.id.clone()).await {
        Ok(found) => found,
        Err(e) => return page_error(lang, e),
    };
    let token = app.engine.page_token(&invoice.id);
    let markup = match &deal {
        Some(deal) => {
            // A deal that ran out keeps the customer here: "I have paid" is
            // still theirs to press.
            let stay = deal.status == DealStatus::Canceled && deal.settled_by.is_none();
            if let (false, Some(url)) = (stay, return_target(&invoice)) {
                return redirect_to(url);
            }
            render_p2p(
                lang,
                &invoice,
                deal,
                &merchant,
                app.engine.now_secs(),
                &token,
            )
        }
        None => render_page(lang, &invoice, &merchant, app.engine.now_secs(), &token),
    };
    page_response(&merchant, markup)
}

/// "I have paid": noted before the deadline, a dispute after it.
pub(super) async fn paid(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    if !guard::post_from_page(&app, &id, &headers, body).await {
        return refused(lang);
    }
    match app.engine.customer_says_paid(id).await {
        Ok(deal) => {
            Redirect::to(&format!("/hpp/{}?lang={}", deal.invoice_id, lang.code())).into_response()
        }
        Err(e) => page_error(lang, e),
    }
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
