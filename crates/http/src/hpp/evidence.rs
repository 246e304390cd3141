//! Receipts on the P2P view: a customer whose payment is disputed, past its
//! deadline or said to be paid sends a receipt (PNG, JPEG or PDF) and says
//! why. A plain multipart form, guarded like the page's other forms: the
//! page's token in a field, and no browser saying it came from elsewhere.
//! Every part is read within a limit; what the file is, the engine reads
//! from its bytes.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kassa_domain::evidence::{FILES_PER_DEAL, FILE_MAX_BYTES, REASONS, TEXT_MAX_CHARS};
use kassa_domain::Deal;
use kassa_engine::evidence::{takes_evidence, Upload};
use kassa_engine::EngineError;
use maud::{html, Markup};

use super::*;

/// The form's fields other than the file carry a few bytes.
const FIELD_MAX_BYTES: u64 = 4096;

const HEADING: (&str, &str, &str) = ("Send a receipt", "Отправьте чек", "Надішліть квитанцію");
const HINT: (&str, &str, &str) = (
    "A screenshot or photo of the transfer (PNG or JPEG) or a PDF from your bank, up to 5 MiB.",
    "Снимок экрана или фото перевода (PNG или JPEG) или PDF из банка, до 5 МиБ.",
    "Знімок екрана або фото переказу (PNG або JPEG) чи PDF з банку, до 5 МіБ.",
);
const REASON: (&str, &str, &str) = ("Reason", "Причина", "Причина");
const COMMENT: (&str, &str, &str) = (
    "Comment (optional)",
    "Комментарий (необязательно)",
    "Коментар (необов'язково)",
);
const SEND: (&str, &str, &str) = ("Send", "Отправить", "Надіслати");
const SENT: (&str, &str, &str) = ("Files sent", "Отправлено файлов", "Надіслано файлів");
const NOT_TAKEN: (&str, &str, &str) = (
    "The file was not accepted",
    "Файл не принят",
    "Файл не прийнято",
);

fn reason_label(lang: Lang, reason: &str) -> &'static str {
    lang.t(match reason {
        "paid_but_not_credited" => (
            "I paid, but the payment was not credited",
            "Я оплатил, но платёж не зачислен",
            "Я сплатив, але платіж не зараховано",
        ),
        "paid_wrong_amount" => (
            "I paid a different amount",
            "Я перевёл другую сумму",
            "Я переказав іншу суму",
        ),
        _ => ("Other", "Другое", "Інше"),
    })
}

/// Whether the page shows the form: the deal takes receipts and has room.
pub(super) fn shown(deal: &Deal, now_secs: i64) -> bool {
    takes_evidence(deal, now_secs) && deal.evidence.len() < FILES_PER_DEAL
}

/// The form, or how many files were sent once they fill the deal.
pub(super) fn section(
    lang: Lang,
    invoice_id: &str,
    deal: &Deal,
    now_secs: i64,
    token: &str,
) -> Markup {
    let sent = deal.evidence.len();
    html! {
        @if shown(deal, now_secs) {
            h2 { (lang.t(HEADING)) }
            form #evidence method="post" enctype="multipart/form-data"
                action={ "/hpp/" (invoice_id) "/evidence?lang=" (lang.code()) } {
                input type="hidden" name=(guard::TOKEN_FIELD) value=(token);
                p.hint { (lang.t(HINT)) }
                p { input #evidence-file type="file" name="file" required accept="image/png,image/jpeg,application/pdf"; }
                p {
                    label for="evidence-reason" { (lang.t(REASON)) } br;
                    select #evidence-reason name="reason" {
                        @for r in REASONS {
                            option value=(r) selected[deal.customer_reason.as_deref() == Some(r)] { (reason_label(lang, r)) }
                        }
                    }
                }
                p {
                    label for="evidence-text" { (lang.t(COMMENT)) } br;
                    textarea #evidence-text name="text" maxlength=(TEXT_MAX_CHARS) rows="3" {}
                }
                button.ok #evidence-send type="submit" { (lang.t(SEND)) }
            }
        }
        @if sent > 0 {
            p.hint #evidence-sent data-count=(sent) { (lang.t(SENT)) ": " (sent) " / " (FILES_PER_DEAL) }
        }
    }
}

/// What the multipart form carried.
#[derive(Default)]
struct Form {
    token: String,
    reason: String,
    text: String,
    file: Vec<u8>,
}

enum FormError {
    TooLarge,
    Unreadable,
}

async fn read_form(headers: &HeaderMap, body: Body) -> Result<Form, FormError> {
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok())
        .ok_or(FormError::Unreadable)?;
    let limits = multer::Constraints::new()
        .allowed_fields(vec!["token", "reason", "text", "file"])
        .size_limit(
            multer::SizeLimit::new()
                .whole_stream(FILE_MAX_BYTES as u64 + 4 * FIELD_MAX_BYTES)
                .per_field(FIELD_MAX_BYTES)
                .for_field("file", FILE_MAX_BYTES as u64),
        );
    let mut multipart =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, limits);
    let mut form = Form::default();
    let failed = |e: multer::Error| match e {
        multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. } => {
            FormError::TooLarge
        }
        _ => FormError::Unreadable,
    };
    while let Some(field) = multipart.next_field().await.map_err(failed)? {
        let name = field.name().unwrap_or_default().to_string();
        let bytes = field.bytes().await.map_err(failed)?;
        let text = || String::from_utf8_lossy(&bytes).into_owned();
        match name.as_str() {
            "token" => form.token = text(),
            "reason" => form.reason = text(),
            "text" => form.text = text(),
            "file" => form.file = bytes.to_vec(),
            _ => {}
        }
    }
    Ok(form)
}

fn not_taken(lang: Lang, status: StatusCode, detail: &str) -> Response {
    let title = lang.t(NOT_TAKEN);
    (
        status,
        Html(
            layout(
                lang,
                title,
                html! { h1 { (title) } p #evidence-error { (detail) } },
            )
            .into_string(),
        ),
    )
        .into_response()
}

/// Takes a receipt, then shows the page again.
pub(super) async fn upload(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    if guard::sent_from_elsewhere(&headers, &app.base_url) {
        return refused(lang);
    }
    let form = match read_form(&headers, body).await {
        Ok(form) => form,
        Err(FormError::TooLarge) => {
            return not_taken(
                lang,
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "The file is larger than {} MiB.",
                    FILE_MAX_BYTES / (1024 * 1024)
                ),
            )
        }
        Err(FormError::Unreadable) => return refused(lang),
    };
    if !app.engine.check_page_token(&id, &form.token) {
        return refused(lang);
    }
    let upload = Upload {
        body: form.file,
        reason: form.reason,
        text: form.text,
    };
    match app.engine.add_dispute_evidence(id, upload).await {
        Ok(deal) => {
            Redirect::to(&format!("/hpp/{}?lang={}", deal.invoice_id, lang.code())).into_response()
        }
        Err(EngineError::Invalid(fields)) => {
            let detail: Vec<&str> = fields.values().map(String::as_str).collect();
            not_taken(lang, StatusCode::UNPROCESSABLE_ENTITY, &detail.join(" "))
        }
        Err(EngineError::Conflict(why)) => not_taken(lang, StatusCode::CONFLICT, &why),
        Err(EngineError::Forbidden(why)) => not_taken(lang, StatusCode::FORBIDDEN, &why),
        Err(e) => page_error(lang, e),
    }
}
