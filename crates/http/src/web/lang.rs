//! The languages of Kassa's pages (the hosted page, the portal): English,
//! Russian and Ukrainian.

use axum::http::{header, HeaderMap};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Ru,
    Uk,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Ru, Lang::Uk];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
            Lang::Uk => "uk",
        }
    }

    /// Its own name, for a language switch.
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Ru => "Русский",
            Lang::Uk => "Українська",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code.get(..2)?.to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "ru" => Some(Lang::Ru),
            "uk" => Some(Lang::Uk),
            _ => None,
        }
    }

    /// `?lang=` first, then the first of Accept-Language that we speak.
    pub fn choose(query: Option<&str>, headers: &HeaderMap) -> Lang {
        query
            .and_then(Lang::parse)
            .or_else(|| Self::accepted(headers))
            .unwrap_or(Lang::En)
    }

    pub fn accepted(headers: &HeaderMap) -> Option<Lang> {
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').find_map(|part| Lang::parse(part.trim())))
    }

    /// The page's words: (en, ru, uk) chosen by `self`.
    pub fn t(self, words: (&'static str, &'static str, &'static str)) -> &'static str {
        match self {
            Lang::En => words.0,
            Lang::Ru => words.1,
            Lang::Uk => words.2,
        }
    }
}
