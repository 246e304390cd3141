//! Dispute evidence: receipts a customer uploads on the hosted page of a
//! P2P invoice, with the reason they chose. What a file is, is read from its
//! first bytes, never from its name or the type the browser declared.

use serde::{Deserialize, Serialize};

/// The largest receipt taken.
pub const FILE_MAX_BYTES: usize = 5 * 1024 * 1024;
/// Receipts one deal takes.
pub const FILES_PER_DEAL: usize = 3;
/// The customer's own words beside the reason, in characters.
pub const TEXT_MAX_CHARS: usize = 500;

/// The reasons a customer can choose.
pub const REASONS: [&str; 3] = ["paid_but_not_credited", "paid_wrong_amount", "other"];

/// The kinds of file taken, by their magic bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Png,
    Jpeg,
    Pdf,
}

impl FileKind {
    /// The kind `bytes` start like, if one taken.
    pub fn sniff(bytes: &[u8]) -> Option<FileKind> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(FileKind::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(FileKind::Jpeg)
        } else if bytes.starts_with(b"%PDF-") {
            Some(FileKind::Pdf)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            FileKind::Png => "image/png",
            FileKind::Jpeg => "image/jpeg",
            FileKind::Pdf => "application/pdf",
        }
    }

    pub fn from_content_type(content_type: &str) -> Option<FileKind> {
        [FileKind::Png, FileKind::Jpeg, FileKind::Pdf]
            .into_iter()
            .find(|k| k.content_type() == content_type)
    }

    pub fn extension(self) -> &'static str {
        match self {
            FileKind::Png => "png",
            FileKind::Jpeg => "jpg",
            FileKind::Pdf => "pdf",
        }
    }
}

/// One uploaded receipt as its deal lists it; the bytes are stored apart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub id: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub created_at_secs: i64,
}

/// Why a receipt is not taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvidenceError {
    Empty,
    TooLarge,
    NotAReceipt,
    UnknownReason,
    TextTooLong,
}

/// Checks an upload: the file's kind by its content, its size, the reason
/// and the text (trimmed; empty is none).
pub fn check_upload(
    bytes: &[u8],
    reason: &str,
    text: &str,
) -> Result<(FileKind, Option<String>), EvidenceError> {
    if bytes.is_empty() {
        return Err(EvidenceError::Empty);
    }
    if bytes.len() > FILE_MAX_BYTES {
        return Err(EvidenceError::TooLarge);
    }
    let kind = FileKind::sniff(bytes).ok_or(EvidenceError::NotAReceipt)?;
    if !REASONS.contains(&reason) {
        return Err(EvidenceError::UnknownReason);
    }
    let text = text.trim();
    if text.chars().count() > TEXT_MAX_CHARS {
        return Err(EvidenceError::TextTooLong);
    }
    Ok((kind, (!text.is_empty()).then(|| text.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_is_read_from_the_content() {
        assert_eq!(
            FileKind::sniff(b"\x89PNG\r\n\x1a\nrest"),
            Some(FileKind::Png)
        );
        assert_eq!(
            FileKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(FileKind::Jpeg)
        );
        assert_eq!(FileKind::sniff(b"%PDF-1.7\n"), Some(FileKind::Pdf));
        assert_eq!(FileKind::sniff(b"<svg xmlns=..."), None);
        assert_eq!(FileKind::sniff(b"\x89PN"), None);
    }

    #[test]
    fn an_upload_is_checked_whole() {
        let png = b"\x89PNG\r\n\x1a\n....";
        assert_eq!(check_upload(png, "other", "  "), Ok((FileKind::Png, None)));
        assert_eq!(check_upload(b"", "other", ""), Err(EvidenceError::Empty));
        assert_eq!(
            check_upload(&vec![0u8; FILE_MAX_BYTES + 1], "other", ""),
            Err(EvidenceError::TooLarge)
        );
        assert_eq!(
            check_upload(b"GIF89a", "other", ""),
            Err(EvidenceError::NotAReceipt)
        );
        assert_eq!(
            check_upload(png, "refund_me", ""),
            Err(EvidenceError::UnknownReason)
        );
        assert_eq!(
            check_upload(png, "other", &"x".repeat(TEXT_MAX_CHARS + 1)),
            Err(EvidenceError::TextTooLong)
        );
    }
}
