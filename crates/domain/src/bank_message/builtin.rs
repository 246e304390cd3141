//! The shipped pattern table: the SMS and push formats of the common Russian
//! banks and of SBP transfers. Order matters, first match wins: within a
//! bank, credits come before the debits that share their words ("Перевод
//! 500р от ..." is money in, "Перевод 500р" without a payer is money out);
//! the banks' own patterns (filtered by sender) come before the SBP ones
//! (any sender), and the balance-only pattern comes last.
//!
//! `%AMT%` stands for an amount (`1 500`, `1 500,50`, `1,500.50`, `900`)
//! and `%CUR%` for the currency after it (`р`, `р.`, `руб`, `RUB`, `RUR`,
//! `₽`); spaces of every width reach the patterns as plain spaces.

use super::{MessageKind, MessagePattern};

const AMT: &str = r"(?P<amount>\d{1,3}(?:[ ,.]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?)";
const CUR: &str = r"(?P<currency>₽|руб(?:лей|\.)?|р\.?|RUB|RUR)";

/// (name, kind, sender filter, text regex).
const TABLE: &[(&str, MessageKind, Option<&str>, &str)] = &[
    // Sberbank, short number 900: "СЧЁТ4821 12:05 Зачисление 1 500р Баланс: ...".
    (
        "sberbank_credit",
        MessageKind::Credit,
        Some(SBER),
        r"^(?:СЧ[ЁЕ]Т|MIR-?|VISA|ECMC|MAES|MC)(?P<digits>\d{4})\s+\d{1,2}:\d{2}\s+(?:зачисление(?:\s+[а-яё]+)?|поступление|перевод\s+из\s+[^+\d]+?)\s+\+?%AMT%\s?%CUR%",
    ),
    (
        "sberbank_transfer_in",
        MessageKind::Credit,
        Some(SBER),
        r"^(?:СЧ[ЁЕ]Т|MIR-?|VISA|ECMC|MAES|MC)(?P<digits>\d{4})\s+\d{1,2}:\d{2}\s+перевод\s+\+?%AMT%\s?%CUR%\s+от\s",
    ),
    (
        "sberbank_debit",
        MessageKind::Debit,
        Some(SBER),
        r"^(?:СЧ[ЁЕ]Т|MIR-?|VISA|ECMC|MAES|MC)(?P<digits>\d{4})\s+\d{1,2}:\d{2}\s+(?:покупка|оплата|списание|выдача|перевод|плат[её]ж)\s+%AMT%\s?%CUR%",
    ),
    // T-Bank (Tinkoff): "Пополнение. Карта *5610. 3 000 ₽ от ...".
    (
        "tbank_credit",
        MessageKind::Credit,
        Some(TBANK),
        r"^(?:пополнение|зачисление|входящий перевод)[.,:]?\s+(?:по\s+)?(?:карт[аеы]|сч[её]т[ау]?)\s*\*?(?P<digits>\d{4})[.,:;]?\s+(?:на\s+)?\+?%AMT%\s?%CUR%",
    ),
    (
        "tbank_debit",
        MessageKind::Debit,
        Some(TBANK),
        r"^(?:покупка|оплата|списание|перевод|снятие)[.,:]?\s+(?:по\s+)?(?:карт[аеы]|сч[её]т[ау]?)\s*\*?(?P<digits>\d{4})[.,:;]?\s+%AMT%\s?%CUR%",
    ),
    // Alfa-Bank: "5*8642 Пополнение 7 500,00 RUR Баланс: ...", and
    // "Поступление 2 000.00 RUB на счёт *8642".
    (
        "alfabank_credit",
        MessageKind::Credit,
        Some(ALFA),
        r"(?:^|\s)\d?\*(?P<digits>\d{4})\s+(?:пополнение|зачисление|поступление)(?:\s+сч[её]та)?\s+\+?%AMT%\s?%CUR%",
    ),
    (
        "alfabank_credit_to_account",
        MessageKind::Credit,
        Some(ALFA),
        r"^(?:поступление|пополнение|зачисление)\s+\+?%AMT%\s?%CUR%\s+на\s+(?:сч[её]т|карту)\s*\*?(?P<digits>\d{4})",
    ),
    (
        "alfabank_debit",
        MessageKind::Debit,
        Some(ALFA),
        r"(?:^|\s)\d?\*(?P<digits>\d{4})\s+(?:покупка|оплата|списание|перевод|снятие)\s+%AMT%\s?%CUR%",
    ),
    // VTB: "Поступление 4 200р Счет*3315 от ПЕТР С. Баланс ...".
    (
        "vtb_credit",
        MessageKind::Credit,
        Some(VTB),
        r"^(?:поступление|зачисление|пополнение)\s+\+?%AMT%\s?%CUR%[.,]?\s+(?:сч[её]т|карта)\s*\*?(?P<digits>\d{4})",
    ),
    (
        "vtb_debit",
        MessageKind::Debit,
        Some(VTB),
        r"^(?:списание|оплата|покупка|снятие|перевод)\s+%AMT%\s?%CUR%[.,]?\s+(?:сч[её]т|карта)\s*\*?(?P<digits>\d{4})",
    ),
    // Raiffeisenbank, in Cyrillic or transliterated:
    // "Счет *2468: зачисление 6 000,00 RUB", "Karta *2468; Popolnenie: 1 500.00 RUR".
    (
        "raiffeisen_credit",
        MessageKind::Credit,
        Some(RAIF),
        r"^(?:сч[её]т|карта|schet|karta)\s*\*?(?P<digits>\d{4})[:;]\s*(?:зачисление|пополнение|поступление|zachislenie|popolnenie|postuplenie)[:\s]+\+?%AMT%\s?%CUR%",
    ),
    (
        "raiffeisen_debit",
        MessageKind::Debit,
        Some(RAIF),
        r"^(?:сч[её]т|карта|schet|karta)\s*\*?(?P<digits>\d{4})[:;]\s*(?:покупка|оплата|списание|pokupka|oplata|spisanie)[:\s]+%AMT%\s?%CUR%",
    ),
    // Ozon Bank: "Пополнение счёта *9911 на 2 750 ₽. Доступно ...".
    (
        "ozonbank_credit",
        MessageKind::Credit,
        Some(OZON),
        r"^(?:пополнение|зачисление)\s+(?:сч[её]та|карты)\s*\*?(?P<digits>\d{4})\s+на\s+\+?%AMT%\s?%CUR%",
    ),
    (
        "ozonbank_debit",
        MessageKind::Debit,
        Some(OZON),
        r"^(?:оплата|покупка|списание|перевод)\s+%AMT%\s?%CUR%\s+(?:по\s+карте|по\s+сч[её]ту|с\s+сч[её]та)\s*\*?(?P<digits>\d{4})",
    ),
    // SBP, whichever bank or app forwards it.
    (
        "sbp_credit",
        MessageKind::Credit,
        None,
        r"перевод\s+по\s+сбп\s+от\s+[^+\d]*?\+?%AMT%\s?%CUR%.*?(?:сч[её]т|карт[ауы])\s*\*?(?P<digits>\d{4})",
    ),
    (
        "sbp_credit_account_first",
        MessageKind::Credit,
        None,
        r"(?:сч[её]т|карт[аы]|MIR-?|VISA|ECMC)\s*\*?(?P<digits>\d{4}).*?перевод\s+по\s+сбп\s+от\s+[^+\d]*?\+?%AMT%\s?%CUR%",
    ),
    (
        "sbp_credit_incoming",
        MessageKind::Credit,
        None,
        r"(?:входящий\s+перевод\s+(?:по\s+)?сбп|вам\s+перевели\s+по\s+сбп)[^\d+]*\+?%AMT%\s?%CUR%.*?(?:сч[её]т|карт[ауы])\s*\*?(?P<digits>\d{4})",
    ),
    (
        "sbp_debit",
        MessageKind::Debit,
        None,
        r"(?:исходящий\s+перевод\s+(?:по\s+)?сбп|перевод\s+по\s+сбп)\s+(?:на\s+)?%AMT%\s?%CUR%",
    ),
    // A balance and nothing else, with or without the account before it.
    (
        "balance",
        MessageKind::Balance,
        None,
        r"^(?:\S*\s*\*?\d{4}[.,:;]?\s+(?:\d{1,2}:\d{2}\s+)?)?(?:баланс|доступно|остаток|balans|dostupno)(?:[:\s]+%AMT%\s?%CUR%)?[.\s]*$",
    ),
];

const SBER: &str = r"^(?:900|sberbank|сбербанк|сбер|sber)$";
const TBANK: &str = r"^(?:tinkoff|t-bank|tbank|т-банк|тинькофф)";
const ALFA: &str = r"^(?:alfa-?bank|альфа-?банк)";
const VTB: &str = r"^(?:vtb|втб)";
const RAIF: &str = r"^(?:raiffeisen|райффайзен|rbank)";
const OZON: &str = r"^(?:ozon\s?bank|ozon|озон\s?банк)";

/// The built-in patterns, in the order they are tried.
pub fn builtin_patterns() -> Vec<MessagePattern> {
    TABLE
        .iter()
        .map(|(name, kind, sender, regex)| MessagePattern {
            id: format!("builtin:{name}"),
            kind: *kind,
            sender: sender.map(str::to_string),
            regex: regex.replace("%AMT%", AMT).replace("%CUR%", CUR),
            created_at_secs: 0,
        })
        .collect()
}
