//! Files that go with a case: a clerk's scan of a material at the window,
//! or a photo or PDF a citizen sent with an online pre-application (网上预审).
//!
//! A file is known by the SHA-256 of its content; a case's events carry
//! each attachment's hash, size and type ([`Attachment`], written as
//! `Event::Attached`), never a path. What a file is, is read from its first
//! bytes ([`sniff`]), never from its name or the type a sender declares:
//! only JPEG, PNG and PDF are taken.

use serde::{Deserialize, Serialize};

/// The types of file a hall takes, by their content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContentType {
    /// A JPEG image (starts `FF D8 FF`).
    Jpeg,
    /// A PNG image (starts with the PNG signature).
    Png,
    /// A PDF document (starts `%PDF-`).
    Pdf,
}

impl ContentType {
    /// The media type served with the file.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Pdf => "application/pdf",
        }
    }

    /// Stable name (also its code in the log: see [`ContentType::code`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jpeg => "jpeg",
            Self::Png => "png",
            Self::Pdf => "pdf",
        }
    }

    /// Its number in the log's body.
    pub fn code(self) -> i32 {
        match self {
            Self::Jpeg => 1,
            Self::Png => 2,
            Self::Pdf => 3,
        }
    }

    /// The type of a number in the log's body.
    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            1 => Some(Self::Jpeg),
            2 => Some(Self::Png),
            3 => Some(Self::Pdf),
            _ => None,
        }
    }

    /// The type a sender declares as a media type (`image/jpeg`,
    /// `image/png`, `application/pdf`, or `image/jpg`); `None` for any
    /// other, including the generic `application/octet-stream`.
    pub fn from_mime(mime: &str) -> Option<Self> {
        let base = mime.split(';').next().unwrap_or("").trim();
        match base.to_ascii_lowercase().as_str() {
            "image/jpeg" | "image/jpg" | "image/pjpeg" => Some(Self::Jpeg),
            "image/png" => Some(Self::Png),
            "application/pdf" => Some(Self::Pdf),
            _ => None,
        }
    }
}

/// What a file is, from its first bytes (its magic number): `None` unless
/// it is a JPEG, a PNG or a PDF.
pub fn sniff(bytes: &[u8]) -> Option<ContentType> {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ContentType::Jpeg)
    } else if bytes.starts_with(PNG) {
        Some(ContentType::Png)
    } else if bytes.starts_with(b"%PDF-") {
        Some(ContentType::Pdf)
    } else {
        None
    }
}

/// Where an attachment came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Scanned or filed by the clerk at the window.
    Scan,
    /// Sent by the applicant with an online pre-application.
    Online,
}

impl Source {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scan => "scan",
            Self::Online => "online",
        }
    }
}

/// A file attached to a case, as its event records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attachment {
    /// The material it shows: its name in the matter's checklist (or, for
    /// a material not in the checklist, what the clerk called it).
    pub material: String,
    /// SHA-256 of the content, 64 lowercase hex digits.
    pub hash: String,
    /// Size in bytes.
    pub size: u64,
    /// The type, read from the content.
    pub content_type: ContentType,
    /// Scanned at the window or sent online.
    pub source: Source,
}

/// How a case came to the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Intake {
    /// Submitted at the window.
    #[default]
    Window,
    /// Pre-applied online (网上预审) and accepted at the window.
    Online,
}

impl Intake {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Window => "window",
            Self::Online => "online",
        }
    }

    /// Is it the default (left out of JSON)?
    pub fn is_window(&self) -> bool {
        *self == Self::Window
    }
}

/// Is `s` a SHA-256 as the log writes it (64 lowercase hex digits)?
pub fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_read_from_the_content() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0rest"), Some(ContentType::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some(ContentType::Png));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some(ContentType::Pdf));
        assert_eq!(sniff(b"<html>"), None);
        assert_eq!(sniff(b"MZ\x90\x00"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(b"\xFF\xD8"), None);
        for t in [ContentType::Jpeg, ContentType::Png, ContentType::Pdf] {
            assert_eq!(ContentType::from_code(t.code()), Some(t));
            assert_eq!(ContentType::from_mime(t.mime()), Some(t));
        }
        assert_eq!(ContentType::from_mime("application/octet-stream"), None);
        assert_eq!(
            ContentType::from_mime("image/JPEG; q=1"),
            Some(ContentType::Jpeg)
        );
    }

    #[test]
    fn a_hash_is_64_lowercase_hex_digits() {
        assert!(is_hash(&"a".repeat(64)));
        assert!(!is_hash(&"A".repeat(64)));
        assert!(!is_hash(&"a".repeat(63)));
        assert!(!is_hash("../../etc/passwd"));
    }
}
