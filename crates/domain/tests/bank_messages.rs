//! The golden messages: real-shaped bank SMS and pushes (invented texts, no
//! one's data) and what each must be read as. Every built-in pattern is
//! covered by at least one line; a test below checks that it is.

use std::collections::BTreeSet;

use kassa_domain::bank_message::{builtin_patterns, MessageKind, Patterns};

/// (sender, text, kind, amount in kopecks, digits, pattern).
type Golden = (
    &'static str,
    &'static str,
    MessageKind,
    Option<i64>,
    Option<&'static str>,
    Option<&'static str>,
);

use MessageKind::{Balance, Credit, Debit, Unknown};

const GOLDEN: &[Golden] = &[
    // Sberbank (900).
    (
        "900",
        "СЧЁТ4821 12:05 Зачисление 1 500р Баланс: 10 200.50р",
        Credit,
        Some(150_000),
        Some("4821"),
        Some("sberbank_credit"),
    ),
    (
        "900",
        "MIR-7733 09:41 Перевод из Т-Банк +9 020р от ИВАН И. Баланс: 15 000р",
        Credit,
        Some(902_000),
        Some("7733"),
        Some("sberbank_credit"),
    ),
    (
        "900",
        "ECMC5532 10:00 зачисление зарплаты 45\u{a0}000,00р",
        Credit,
        Some(4_500_000),
        Some("5532"),
        Some("sberbank_credit"),
    ),
    (
        "900",
        "VISA1029 18:03 перевод 2 500,50р от АННА П.",
        Credit,
        Some(250_050),
        Some("1029"),
        Some("sberbank_transfer_in"),
    ),
    (
        "900",
        "MIR-7733 14:22 Покупка 350р MAGNIT Баланс: 14 650р",
        Debit,
        Some(35_000),
        Some("7733"),
        Some("sberbank_debit"),
    ),
    (
        "900",
        "СЧЁТ4821 15:10 Перевод 1 000р Баланс: 9 200.50р",
        Debit,
        Some(100_000),
        Some("4821"),
        Some("sberbank_debit"),
    ),
    // A Sberbank format from another sender is not Sberbank's.
    (
        "+79001234567",
        "СЧЁТ4821 12:05 Зачисление 1 500р Баланс: 10 200.50р",
        Unknown,
        None,
        None,
        None,
    ),
    // T-Bank.
    (
        "Tinkoff",
        "Пополнение. Карта *5610. 3 000 ₽ от Иван И. Доступно 12 345,67 ₽",
        Credit,
        Some(300_000),
        Some("5610"),
        Some("tbank_credit"),
    ),
    (
        "T-Bank",
        "Зачисление, счет *0077: +15\u{202f}000,00 RUB. Доступно 20 000 RUB",
        Credit,
        Some(1_500_000),
        Some("0077"),
        Some("tbank_credit"),
    ),
    (
        "Т-Банк",
        "Покупка, карта *5610. 890 ₽. PYATEROCHKA. Доступно 11 455,67 ₽",
        Debit,
        Some(89_000),
        Some("5610"),
        Some("tbank_debit"),
    ),
    // Alfa-Bank.
    (
        "Alfa-Bank",
        "5*8642 Пополнение 7 500,00 RUR Баланс: 31 200,00 RUR",
        Credit,
        Some(750_000),
        Some("8642"),
        Some("alfabank_credit"),
    ),
    (
        "AlfaBank",
        "Поступление 2,000.00 RUB на счёт *8642",
        Credit,
        Some(200_000),
        Some("8642"),
        Some("alfabank_credit_to_account"),
    ),
    (
        "Альфа-Банк",
        "5*8642 Покупка 1 250,00 RUR OZON.RU Баланс: 29 950,00 RUR",
        Debit,
        Some(125_000),
        Some("8642"),
        Some("alfabank_debit"),
    ),
    // VTB.
    (
        "VTB",
        "Поступление 4 200р Счет*3315 от ПЕТР С. Баланс 18 000.00р 11:32",
        Credit,
        Some(420_000),
        Some("3315"),
        Some("vtb_credit"),
    ),
    (
        "VTB",
        "Зачисление 12 000,00 RUB. Карта *3315. Баланс 30 000,00 RUB",
        Credit,
        Some(1_200_000),
        Some("3315"),
        Some("vtb_credit"),
    ),
    (
        "ВТБ",
        "Списание 700р Счет*3315 YANDEX.TAXI Баланс 17 300.00р",
        Debit,
        Some(70_000),
        Some("3315"),
        Some("vtb_debit"),
    ),
    // Raiffeisenbank.
    (
        "Raiffeisen",
        "Счет *2468: зачисление 6 000,00 RUB. Доступно 16 000,00 RUB",
        Credit,
        Some(600_000),
        Some("2468"),
        Some("raiffeisen_credit"),
    ),
    (
        "Raiffeisen",
        "Karta *2468; Popolnenie: 1 500.00 RUR; Dostupno: 3 000.00 RUR",
        Credit,
        Some(150_000),
        Some("2468"),
        Some("raiffeisen_credit"),
    ),
    (
        "Raiffeisen",
        "Karta *2468; Pokupka: 420.00 RUR; AZBUKA VKUSA",
        Debit,
        Some(42_000),
        Some("2468"),
        Some("raiffeisen_debit"),
    ),
    // Ozon Bank.
    (
        "Ozon Bank",
        "Пополнение счёта *9911 на 2 750 ₽. Доступно 5 000 ₽",
        Credit,
        Some(275_000),
        Some("9911"),
        Some("ozonbank_credit"),
    ),
    (
        "Ozon",
        "Оплата 499 ₽ по карте *9911. OZON.RU",
        Debit,
        Some(49_900),
        Some("9911"),
        Some("ozonbank_debit"),
    ),
    // SBP, from any bank.
    (
        "Sovcombank",
        "Перевод по СБП от ИВАН И. +1 500,00 ₽ на счёт *4821",
        Credit,
        Some(150_000),
        Some("4821"),
        Some("sbp_credit"),
    ),
    (
        "900",
        "СЧЁТ4821 12:05 Перевод по СБП от ИВАН И. +1\u{a0}500р Баланс: 11 700.50р",
        Credit,
        Some(150_000),
        Some("4821"),
        Some("sbp_credit_account_first"),
    ),
    (
        "MTS Bank",
        "Входящий перевод СБП 3 200 RUB от ПЕТР С., счет *7733",
        Credit,
        Some(320_000),
        Some("7733"),
        Some("sbp_credit_incoming"),
    ),
    (
        "Pochta Bank",
        "Вам перевели по СБП 10 000 руб. Карта *1188",
        Credit,
        Some(1_000_000),
        Some("1188"),
        Some("sbp_credit_incoming"),
    ),
    (
        "MTS Bank",
        "Исходящий перевод СБП 700 RUB для АННА П., счет *7733",
        Debit,
        Some(70_000),
        None,
        Some("sbp_debit"),
    ),
    (
        "Sovcombank",
        "Перевод по СБП 500 ₽ получателю ИВАН И. Счёт *4821",
        Debit,
        Some(50_000),
        None,
        Some("sbp_debit"),
    ),
    // Balance only.
    (
        "900",
        "СЧЁТ4821 10:30 Баланс: 10 200.50р",
        Balance,
        Some(1_020_050),
        None,
        Some("balance"),
    ),
    (
        "Tinkoff",
        "Доступно 12 000 ₽",
        Balance,
        Some(1_200_000),
        None,
        Some("balance"),
    ),
    // Unknown.
    (
        "900",
        "Код для входа в СберБанк Онлайн: 48213. Никому его не сообщайте",
        Unknown,
        None,
        None,
        None,
    ),
    (
        "Tinkoff",
        "Кэшбэк за ноябрь начислен в баллах",
        Unknown,
        None,
        None,
        None,
    ),
    ("", "", Unknown, None, None, None),
];

#[test]
fn every_golden_message_reads_as_expected() {
    let patterns = Patterns::builtin();
    let mut failures = Vec::new();
    for (sender, text, kind, amount, digits, pattern) in GOLDEN {
        let r = patterns.classify(sender, text);
        let got = (
            r.kind,
            r.amount_minor,
            r.digits.as_deref(),
            r.pattern_id
                .as_deref()
                .map(|p| p.trim_start_matches("builtin:")),
        );
        let want = (*kind, *amount, *digits, *pattern);
        if got != want {
            failures.push(format!(
                "{sender:?} {text:?}\n   got {got:?}\n  want {want:?}"
            ));
        }
        if r.kind != Unknown {
            assert_eq!(r.currency.map(|c| c.code()), Some("RUB"), "{text}");
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_builtin_pattern_has_a_golden_message() {
    let covered: BTreeSet<&str> = GOLDEN.iter().filter_map(|g| g.5).collect();
    for p in builtin_patterns() {
        let name = p.id.trim_start_matches("builtin:").to_string();
        assert!(
            covered.contains(name.as_str()),
            "no golden message for {name}"
        );
    }
}

#[test]
fn operator_patterns_come_first() {
    use kassa_domain::bank_message::MessagePattern;
    let own = MessagePattern {
        id: "mpt_1".into(),
        kind: Credit,
        sender: Some("^MyBank$".into()),
        regex: r"^Prishlo (?P<amount>[\d ]+(?:[.,]\d{1,2})?) (?P<currency>RUB|USD) na (?P<digits>\d{4})".into(),
        created_at_secs: 0,
    };
    let patterns = Patterns::new(vec![own]);
    let r = patterns.classify("MyBank", "Prishlo 2 500,10 RUB na 4821");
    assert_eq!(
        (
            r.kind,
            r.amount_minor,
            r.digits.as_deref(),
            r.pattern_id.as_deref()
        ),
        (Credit, Some(250_010), Some("4821"), Some("mpt_1"))
    );
    let r = patterns.classify("MyBank", "Prishlo 10 USD na 4821");
    assert_eq!(r.currency.map(|c| c.code()), Some("USD"));
    // Another sender: the operator's pattern does not apply.
    assert_eq!(
        patterns
            .classify("Other", "Prishlo 2 500,10 RUB na 4821")
            .kind,
        Unknown
    );
    // The built-ins still do.
    assert_eq!(
        patterns
            .classify("900", "СЧЁТ4821 12:05 Зачисление 1 500р")
            .kind,
        Credit
    );
}
