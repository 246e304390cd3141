//! The receipts a customer sent to a dispute, as the trader panel and the
//! console show them: the reason chosen, the customer's words, and a signed
//! link to each file (see [`crate::evidence`]).

use kassa_domain::evidence::FileKind;
use kassa_domain::Deal;
use kassa_engine::evidence::EvidenceLinks;
use maud::{html, Markup};

use super::format::time;
use super::Lang;

const RECEIPTS: (&str, &str, &str) = ("Customer's receipts", "Чеки клиента", "Квитанції клієнта");
const REASON: (&str, &str, &str) = ("Customer's reason", "Причина клиента", "Причина клієнта");
const NONE: (&str, &str, &str) = (
    "The customer sent no receipt.",
    "Клиент не прислал чек.",
    "Клієнт не надіслав квитанцію.",
);

fn kind_name(content_type: &str) -> &'static str {
    match FileKind::from_content_type(content_type) {
        Some(FileKind::Png) => "PNG",
        Some(FileKind::Jpeg) => "JPEG",
        Some(FileKind::Pdf) => "PDF",
        None => "?",
    }
}

/// The deal's receipts with their links, or a line saying there are none.
pub fn receipts(lang: Lang, deal: &Deal, links: &EvidenceLinks) -> Markup {
    html! {
        div.evidence data-deal=(deal.id) {
            @if let Some(reason) = &deal.customer_reason {
                p { (lang.t(REASON)) ": " code.evidence-reason { (reason) }
                    @if let Some(text) = &deal.customer_reason_text { " — " span.evidence-text { (text) } } }
            }
            @if deal.evidence.is_empty() {
                p.muted.no-evidence { (lang.t(NONE)) }
            } @else {
                p { strong { (lang.t(RECEIPTS)) } }
                ul.evidence-links {
                    @for (i, e) in deal.evidence.iter().enumerate() {
                        li {
                            a.evidence-link href=(links.link(&e.id)) target="_blank" rel="noopener noreferrer" data-type=(e.content_type) {
                                "#" (i + 1) " " (kind_name(&e.content_type))
                            }
                            " · " ((e.size_bytes + 1023) / 1024) " KiB · " (time(e.created_at_secs))
                        }
                    }
                }
            }
        }
    }
}
