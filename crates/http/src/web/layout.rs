//! The frame of every page: header with navigation and a language switch,
//! one style sheet that works on a phone, no scripts, and the headers that
//! keep browsers from misusing the pages.

use std::sync::LazyLock;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use maud::{html, Markup, DOCTYPE};
use sha2::{Digest, Sha256};

use super::Lang;

pub const STYLE: &str = "*{box-sizing:border-box}\
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;color:#1d2433}\
header{background:#1d2433;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.6rem 1.2rem;align-items:center}\
header a,header button{color:#fff}header .brand{font-weight:700;margin-right:auto}\
header form{margin:0}header button{background:none;border:1px solid #fff6;border-radius:6px;padding:.2rem .6rem;cursor:pointer;font:inherit}\
nav a{margin-right:.8rem}nav a.on{font-weight:700;text-decoration:none}\
.langs a{margin-left:.4rem;font-size:.85rem}.langs a.on{font-weight:700;text-decoration:none}\
main{max-width:72rem;margin:1rem auto;padding:0 1rem}\
.card{background:#fff;border-radius:10px;padding:1rem 1.2rem;margin-bottom:1rem;box-shadow:0 1px 6px #0001}\
h1{font-size:1.35rem}h2{font-size:1.1rem;margin-top:0}\
table{border-collapse:collapse;width:100%;font-size:.92rem}th,td{text-align:left;padding:.45rem .5rem;border-bottom:1px solid #e5e7eb;vertical-align:top}\
th{font-weight:600;color:#555}.scroll{overflow-x:auto}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem;margin:0}dt{color:#555}dd{margin:0;word-break:break-all}\
label{display:block;font-size:.85rem;color:#555;margin-bottom:.2rem}\
input,select{font:inherit;padding:.45rem .5rem;border:1px solid #c8ccd4;border-radius:6px;width:100%;background:#fff}\
input[type=checkbox]{width:auto}td form{display:inline-block;margin:0 .3rem .3rem 0}td form.match{display:block}\
.filters{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.6rem;align-items:end}\
.btn{font:inherit;background:#2457d6;color:#fff;border:0;border-radius:6px;padding:.5rem 1rem;cursor:pointer;text-decoration:none;display:inline-block}\
.btn.light{background:#e8ecf5;color:#1d2433}\
.badge{display:inline-block;border-radius:999px;padding:.05rem .55rem;font-size:.8rem;background:#e8ecf5}\
.badge.test{background:#ffe9b3;color:#1d2433}.badge.ok{background:#d3f5dc}.badge.bad{background:#fbd5d5}\
.notice{background:#fff6d6;border-left:4px solid #e0b000;padding:.6rem .8rem;margin-bottom:1rem}\
.error{background:#fde8e8;border-left:4px solid #d33;padding:.6rem .8rem;margin-bottom:1rem}\
.pager{display:flex;gap:.6rem;margin-top:.8rem}.narrow{max-width:24rem;margin:3rem auto}\
.narrow form>div{margin-bottom:.8rem}.muted{color:#666;font-size:.85rem}\
@media(max-width:40rem){.hide-sm{display:none}main{padding:0 .5rem}}";

/// Only the one style sheet may apply; no script may run at all.
static POLICY: LazyLock<HeaderValue> = LazyLock::new(|| {
    let style = STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    HeaderValue::from_str(&format!(
        "default-src 'none'; style-src 'sha256-{style}'; img-src 'self' data:; \
         form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ))
    .expect("a header value")
});

/// Sets the protective headers on every response of the pages: a strict
/// policy, no framing, no sniffing, no caching of what a person saw.
pub async fn protect_response(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, POLICY.clone());
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A whole page: `header` goes in the top bar (navigation, sign-out),
/// before the language switch.
pub fn page(lang: Lang, title: &str, header: Markup, main: Markup) -> Markup {
    page_with_head(lang, title, html! {}, header, main)
}

/// A page that reloads itself (`to`) every `secs`, without a script: for
/// one a person keeps open to watch (the trader's open deals).
pub fn refreshing_page(
    lang: Lang,
    title: &str,
    (secs, to): (u32, &str),
    header: Markup,
    main: Markup,
) -> Markup {
    let refresh = html! { meta http-equiv="refresh" content={ (secs) ";url=" (to) }; };
    page_with_head(lang, title, refresh, header, main)
}

fn page_with_head(lang: Lang, title: &str, head: Markup, header: Markup, main: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="same-origin";
                title { (title) " · Kassa" }
                (head)
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                header {
                    span.brand { "Kassa" }
                    (header)
                    span.langs {
                        @for l in Lang::ALL {
                            a class=[(l == lang).then_some("on")] href={ "?lang=" (l.code()) } hreflang=(l.code()) { (l.code().to_uppercase()) }
                        }
                    }
                }
                main { (main) }
            }
        }
    }
}

/// A refusal shown as a page in the person's language.
#[derive(Debug)]
pub struct WebError {
    pub status: StatusCode,
    pub lang: Lang,
    /// Says more than the status's words: what the engine refused, and why.
    pub detail: Option<String>,
    /// Where the page's brand link leads: the pages the person came from.
    pub home: &'static str,
}

impl WebError {
    pub fn new(status: StatusCode, lang: Lang) -> Self {
        WebError {
            status,
            lang,
            detail: None,
            home: "/portal",
        }
    }

    pub fn at(mut self, home: &'static str) -> Self {
        self.home = home;
        self
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn from_engine(e: &kassa_engine::EngineError, lang: Lang) -> Self {
        use kassa_engine::EngineError as E;
        let status = match e {
            E::NotFound => StatusCode::NOT_FOUND,
            E::Unauthorized => StatusCode::UNAUTHORIZED,
            E::Forbidden(_) => StatusCode::FORBIDDEN,
            E::Invalid(_) | E::Conflict(_) | E::InsufficientFunds => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            E::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            e => {
                tracing::error!(error = %e, "page");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let detail = match e {
            E::Invalid(fields) => Some(
                fields
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            E::Conflict(why) => Some(why.clone()),
            E::InsufficientFunds => Some(
                lang.t((
                    "The available balance cannot cover this; nothing was changed.",
                    "Доступный баланс этого не покрывает; ничего не изменено.",
                    "Доступний баланс цього не покриває; нічого не змінено.",
                ))
                .to_string(),
            ),
            _ => None,
        };
        WebError {
            status,
            lang,
            detail,
            home: "/portal",
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let home = self.home;
        self.page_under(home)
    }
}

impl WebError {
    /// The refusal as a page whose top bar leads back to `home`, the start
    /// of the pages it was asked of.
    pub fn page_under(self, home: &str) -> Response {
        let lang = self.lang;
        let words = match self.status {
            StatusCode::NOT_FOUND => ("Not found.", "Не найдено.", "Не знайдено."),
            StatusCode::FORBIDDEN => (
                "The form has expired or did not come from this page. Go back, reload it and try again.",
                "Форма устарела или отправлена не с этой страницы. Вернитесь, обновите её и попробуйте снова.",
                "Форма застаріла або надіслана не з цієї сторінки. Поверніться, оновіть її та спробуйте ще раз.",
            ),
            StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE => {
                ("The form could not be read.", "Не удалось прочитать форму.", "Не вдалося прочитати форму.")
            }
            StatusCode::SERVICE_UNAVAILABLE => (
                "Temporarily unavailable. Try again in a moment.",
                "Временно недоступно. Попробуйте через минуту.",
                "Тимчасово недоступно. Спробуйте за хвилину.",
            ),
            _ => ("Something went wrong.", "Что-то пошло не так.", "Щось пішло не так."),
        };
        let body = page(
            lang,
            self.status.canonical_reason().unwrap_or("Error"),
            html! { a href=(home) { "Kassa" } },
            html! { div.card {
                h1 { (self.status.as_u16()) }
                @if let Some(d) = &self.detail { p #problem { (d) } } @else { p { (lang.t(words)) } }
            } },
        );
        let mut response = (self.status, Html(body.into_string())).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            crate::retry_after_if_unavailable(&mut response);
        }
        response
    }
}
