//! Dispute evidence: the customer's receipts, taken on the hosted page of a
//! P2P invoice and shown to the trader, the operator and the merchant
//! through signed, expiring links. A link is an HMAC of the receipt's id and
//! its expiry under a key of its own derived from the master key: every node
//! checks it, nothing is stored, and a link seen once stops working.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use kassa_domain::evidence::{check_upload, Evidence, EvidenceError, FILES_PER_DEAL};
use kassa_domain::ids::new_id;
use kassa_domain::{Deal, DealStatus};

use crate::p2p::deals::change_deal;
use crate::page_tokens::hmac;
use crate::{Engine, EngineError, EngineResult};

/// Separates this key from every other use of the master key.
const PURPOSE: &[u8] = b"kassa dispute evidence link v1";
/// How long a link works once made.
pub const LINK_LIFETIME_SECS: i64 = 24 * 3600;
/// The route that serves a receipt by its link.
pub const ROUTE: &str = "/dispute-evidence";

/// Makes the links of one rendering, all expiring a lifetime from now.
pub struct EvidenceLinks {
    key: [u8; 32],
    expires_secs: i64,
}

impl EvidenceLinks {
    /// The path (with its query) that serves `evidence_id`.
    pub fn link(&self, evidence_id: &str) -> String {
        format!(
            "{ROUTE}/{evidence_id}?expires={}&signature={}",
            self.expires_secs,
            signature(&self.key, evidence_id, self.expires_secs)
        )
    }
}

fn signature(key: &[u8; 32], evidence_id: &str, expires_secs: i64) -> String {
    URL_SAFE_NO_PAD.encode(hmac(
        key,
        format!("{evidence_id}\n{expires_secs}").as_bytes(),
    ))
}

/// What a customer sends: the file's bytes, the reason chosen and their words.
pub struct Upload {
    pub body: Vec<u8>,
    pub reason: String,
    pub text: String,
}

fn upload_error(e: EvidenceError) -> EngineError {
    let (field, message) = match e {
        EvidenceError::Empty => ("file", "Choose a file to upload.".to_string()),
        EvidenceError::TooLarge => (
            "file",
            format!(
                "The file is larger than {} MiB.",
                kassa_domain::evidence::FILE_MAX_BYTES / (1024 * 1024)
            ),
        ),
        EvidenceError::NotAReceipt => (
            "file",
            "The file is not a PNG or JPEG image or a PDF document.".to_string(),
        ),
        EvidenceError::UnknownReason => ("reason", "Choose one of the reasons.".to_string()),
        EvidenceError::TextTooLong => (
            "text",
            format!(
                "At most {} characters.",
                kassa_domain::evidence::TEXT_MAX_CHARS
            ),
        ),
    };
    EngineError::invalid(field, message)
}

/// Whether the customer of `deal` may send receipts at `now_secs`: the deal
/// is disputed, past its deadline, or they said they paid. A deal people
/// decided or one that completed takes none.
pub fn takes_evidence(deal: &Deal, now_secs: i64) -> bool {
    match deal.status {
        DealStatus::Disputed => true,
        DealStatus::TransferWaiting => {
            deal.customer_says_paid_at_secs.is_some() || deal.deadline_secs <= now_secs
        }
        DealStatus::Canceled => deal.settled_by.is_none(),
        DealStatus::Completed => false,
    }
}

impl Engine {
    /// The links of one rendering.
    pub fn evidence_links(&self) -> EvidenceLinks {
        EvidenceLinks {
            key: hmac(&self.config.master_key, PURPOSE),
            expires_secs: self.now_secs() + LINK_LIFETIME_SECS,
        }
    }

    /// Whether a link's `expires` and `signature` are those Kassa made for
    /// `evidence_id` and it has not expired (compared in constant time).
    pub fn check_evidence_link(&self, evidence_id: &str, expires_secs: i64, sig: &str) -> bool {
        let key = hmac(&self.config.master_key, PURPOSE);
        expires_secs > self.now_secs()
            && crate::secrets::constant_time_eq(&signature(&key, evidence_id, expires_secs), sig)
    }

    /// A receipt's content type and bytes.
    pub async fn evidence_file(&self, evidence_id: String) -> EngineResult<(String, Vec<u8>)> {
        self.read(move |tx| tx.evidence_file(&evidence_id)?.ok_or(EngineError::NotFound))
            .await
    }

    /// Takes a receipt for the deal of `invoice_id`, with the reason the
    /// customer chose, in one transaction with the deal. A deal past its
    /// deadline that was cancelled becomes a dispute, as "I have paid" makes
    /// it; at most [`FILES_PER_DEAL`] receipts a deal.
    pub async fn add_dispute_evidence(
        &self,
        invoice_id: String,
        upload: Upload,
    ) -> EngineResult<Deal> {
        let (kind, text) =
            check_upload(&upload.body, &upload.reason, &upload.text).map_err(upload_error)?;
        let now = self.now_secs();
        // The deal before the invoice, as every write takes them.
        let deal_id = self
            .read(move |tx| {
                tx.invoice(&invoice_id)?
                    .and_then(|i| i.deal_id)
                    .ok_or(EngineError::NotFound)
            })
            .await?;
        let deal = self
            .write(move |tx| {
                let mut deal = tx.deal(&deal_id)?.ok_or(EngineError::NotFound)?;
                if !takes_evidence(&deal, now) {
                    return Err(EngineError::Forbidden(
                        "Receipts are taken once the payment is disputed, its time has run out or you said you paid.".into(),
                    ));
                }
                if deal.evidence.len() >= FILES_PER_DEAL {
                    return Err(EngineError::Conflict(format!(
                        "At most {FILES_PER_DEAL} files can be sent for one payment."
                    )));
                }
                let evidence = Evidence {
                    id: new_id("evd"),
                    content_type: kind.content_type().to_string(),
                    size_bytes: upload.body.len() as i64,
                    created_at_secs: now,
                };
                tx.insert_evidence(&deal.id, &evidence, &upload.body)?;
                deal.evidence.push(evidence);
                deal.customer_reason = Some(upload.reason);
                deal.customer_reason_text = text;
                if deal.customer_says_paid_at_secs.is_none() {
                    deal.customer_says_paid_at_secs = Some(now);
                }
                if deal.status == DealStatus::Canceled {
                    deal.dispute_reason = Some("customer_paid_after_deadline".into());
                    change_deal(tx, &mut deal, DealStatus::Disputed, None, now)?;
                } else {
                    tx.update_deal(&deal)?;
                }
                Ok(deal)
            })
            .await?;
        self.wake_workers();
        Ok(deal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_names_its_receipt_and_expiry() {
        let key = [7u8; 32];
        let a = signature(&key, "evd_1", 100);
        assert_eq!(a, signature(&key, "evd_1", 100));
        assert_ne!(a, signature(&key, "evd_2", 100));
        assert_ne!(a, signature(&key, "evd_1", 101));
        assert_ne!(a, signature(&[8u8; 32], "evd_1", 100));
    }
}
