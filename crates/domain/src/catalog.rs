//! The service catalog: payment methods, the services that carry them, the
//! fields a service asks for and the fees it charges.

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

use crate::fee::{FeeRule, ReserveRule};
use crate::money::Currency;

/// A text in the three languages of the pages and the catalog.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Localized {
    pub en: String,
    pub ru: String,
    pub uk: String,
}

impl Localized {
    pub fn new(en: &str, ru: &str, uk: &str) -> Self {
        Localized {
            en: en.into(),
            ru: ru.into(),
            uk: uk.into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Method {
    pub code: String,
    pub category: String,
    pub name: Localized,
    pub logo: Option<String>,
    pub icon: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub key: String,
    #[serde(rename = "type")]
    pub field_type: String,
    pub label: Localized,
    pub hint: Localized,
    pub example: Option<String>,
    pub regexp: Option<String>,
    pub required: bool,
    pub position: i64,
}

/// How a service takes the money: the hosted page, host to host, a P2P deal,
/// or the test provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    Hpp,
    H2h,
    P2p,
    Test,
}

impl Flow {
    pub fn as_str(self) -> &'static str {
        match self {
            Flow::Hpp => "hpp",
            Flow::H2h => "h2h",
            Flow::P2p => "p2p",
            Flow::Test => "test",
        }
    }
    pub fn parse(text: &str) -> Option<Flow> {
        [Flow::Hpp, Flow::H2h, Flow::P2p, Flow::Test]
            .into_iter()
            .find(|f| f.as_str() == text)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub code: String,
    pub method: String,
    pub flow: Flow,
    pub currency: Currency,
    pub amount_min_minor: i64,
    pub amount_max_minor: i64,
    pub fields: Vec<Field>,
    pub fee: FeeRule,
    pub reserve: ReserveRule,
    /// What a `verify` invoice may be for besides 0: the amount the provider
    /// holds and releases to check a card (none: 0 only).
    #[serde(default)]
    pub verification_amount_minor: Option<i64>,
    /// Whether a refund gives the fee back (kept unless the operator says).
    #[serde(default)]
    pub refund_fee: crate::refund::RefundFee,
    /// The operator offers the service.
    pub enabled: bool,
    /// The service can take payments now (its provider is up).
    pub available: bool,
}

/// The outcomes the `test` service can be asked for through its `status` field.
pub const TEST_OUTCOMES: [&str; 8] = [
    "process_pending",
    "processing",
    "processed",
    "partially_processed",
    "process_failed",
    "verified",
    "verify_failed",
    "terminated",
];

impl Service {
    /// Checks `service_fields` against the service's fields: required ones are
    /// present, every value is a string matching the field's regexp. Fields the
    /// service does not define are kept as given. Errors are keyed
    /// `service_fields.<key>`.
    pub fn check_fields(&self, given: Option<&Map<String, Value>>) -> BTreeMap<String, String> {
        let mut errors = BTreeMap::new();
        let empty = Map::new();
        let given = given.unwrap_or(&empty);
        for field in &self.fields {
            let name = format!("service_fields.{}", field.key);
            match given.get(&field.key) {
                None | Some(Value::Null) => {
                    if field.required {
                        errors.insert(name, "This value should not be blank.".into());
                    }
                }
                Some(Value::String(text)) => {
                    if text.is_empty() && field.required {
                        errors.insert(name, "This value should not be blank.".into());
                    } else if let Some(pattern) = &field.regexp {
                        // Catalog patterns are checked when they are saved.
                        let ok = Regex::new(pattern)
                            .map(|re| re.is_match(text))
                            .unwrap_or(false);
                        if !ok {
                            errors.insert(name, "This value is not valid.".into());
                        }
                    }
                }
                Some(_) => {
                    errors.insert(name, "This value should be of type string.".into());
                }
            }
        }
        if self.flow == Flow::Test && !errors.contains_key("service_fields.status") {
            if let Some(Value::String(status)) = given.get("status") {
                if !TEST_OUTCOMES.contains(&status.as_str()) {
                    errors.insert(
                        "service_fields.status".into(),
                        format!("This value should be one of: {}.", TEST_OUTCOMES.join(", ")),
                    );
                }
            }
        }
        errors
    }
}

/// The whole catalog: methods and services.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    pub methods: Vec<Method>,
    pub services: Vec<Service>,
}

impl Catalog {
    pub fn service(&self, code: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.code == code)
    }
    pub fn method(&self, code: &str) -> Option<&Method> {
        self.methods.iter().find(|m| m.code == code)
    }
}

fn method(code: &str, category: &str, name: Localized) -> Method {
    Method {
        code: code.into(),
        category: category.into(),
        name,
        logo: None,
        icon: None,
    }
}

fn service(code: String, method: &str, flow: Flow, currency: Currency, max_major: i64) -> Service {
    let scale = 10i64.pow(currency.exponent() as u32);
    Service {
        code,
        method: method.into(),
        flow,
        currency,
        amount_min_minor: 1,
        amount_max_minor: max_major * scale,
        fields: Vec::new(),
        fee: FeeRule::default(),
        reserve: ReserveRule::default(),
        refund_fee: crate::refund::RefundFee::Kept,
        verification_amount_minor: None,
        enabled: true,
        available: true,
    }
}

/// The `status` field of the test service, as the spec's pre-request shows it.
fn test_status_field() -> Field {
    Field {
        key: "status".into(),
        field_type: "string".into(),
        label: Localized::new("Status", "Статус", "Статус"),
        hint: Localized::new("Enter Status", "Введите статус", "Введіть статус"),
        example: None,
        regexp: Some("^[a-zA-Z_]*$".into()),
        required: true,
        position: 0,
    }
}

/// The catalog Kassa ships: a `test` service for every currency, and the
/// services the Checkout API's examples name.
pub fn default_catalog() -> Catalog {
    let methods = vec![
        method(
            "payment_card",
            "payment_card",
            Localized::new("Payment card", "Платежная карта", "Платіжна карта"),
        ),
        method(
            "test",
            "alternative",
            Localized::new("Test", "Тест", "Тест"),
        ),
        method(
            "applepay",
            "wallet",
            Localized::new("Apple Pay", "Apple Pay", "Apple Pay"),
        ),
        method(
            "paypal",
            "wallet",
            Localized::new("PayPal", "PayPal", "PayPal"),
        ),
        method(
            "bank_transfer",
            "bank_transfer",
            Localized::new("Bank transfer", "Банковский перевод", "Банківський переказ"),
        ),
        method(
            "card",
            "p2p",
            Localized::new("Card transfer", "Перевод на карту", "Переказ на картку"),
        ),
        method(
            "sbp",
            "p2p",
            Localized::new("SBP transfer", "Перевод по СБП", "Переказ через СБП"),
        ),
    ];
    let mut services = Vec::new();
    for currency in Currency::all() {
        let code = currency.code().to_lowercase();
        let mut test = service(
            format!("test_{code}_test"),
            "test",
            Flow::Test,
            currency,
            9_999_999,
        );
        test.fields.push(test_status_field());
        services.push(test);
    }
    let usd = Currency::from_code("USD").expect("USD is in the table");
    services.push(service(
        "payment_card_usd_hpp".into(),
        "payment_card",
        Flow::Hpp,
        usd,
        1_000_000,
    ));
    services.push(service(
        "applepay_usd_hpp".into(),
        "applepay",
        Flow::Hpp,
        usd,
        1_000_000,
    ));
    services.push(service(
        "paypal_usd_hpp".into(),
        "paypal",
        Flow::Hpp,
        usd,
        1_000_000,
    ));
    let mut bank = service(
        "bank_transfer_usd_hpp".into(),
        "bank_transfer",
        Flow::Hpp,
        usd,
        1_000_000,
    );
    bank.fields.push(Field {
        key: "account_number".into(),
        field_type: "string".into(),
        label: Localized::new("Account number", "Номер счёта", "Номер рахунку"),
        hint: Localized::new("Enter the IBAN", "Введите IBAN", "Введіть IBAN"),
        example: Some("UA213223130000026007233566001".into()),
        regexp: Some("^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}$".into()),
        required: true,
        position: 0,
    });
    services.push(bank);
    // P2P: transfers to a trader's card, or by SBP to a trader's phone.
    for code in [
        "RUB", "UAH", "KZT", "UZS", "AZN", "KGS", "BYN", "TRY", "INR", "IDR", "VND",
    ] {
        let currency = Currency::from_code(code).expect("in the table");
        let lower = code.to_lowercase();
        services.push(service(
            format!("card_{lower}_p2p"),
            "card",
            Flow::P2p,
            currency,
            10_000_000,
        ));
        if code == "RUB" {
            services.push(service(
                format!("sbp_{lower}_p2p"),
                "sbp",
                Flow::P2p,
                currency,
                10_000_000,
            ));
        }
    }
    Catalog { methods, services }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_have_a_test_service_per_currency() {
        let catalog = default_catalog();
        for currency in Currency::all() {
            let code = format!("test_{}_test", currency.code().to_lowercase());
            let service = catalog.service(&code).expect("test service");
            assert_eq!(service.flow, Flow::Test);
            assert!(catalog.method(&service.method).is_some());
        }
        for s in &catalog.services {
            for f in &s.fields {
                if let Some(re) = &f.regexp {
                    Regex::new(re).expect("catalog regexps compile");
                }
            }
        }
    }

    #[test]
    fn checks_fields() {
        let catalog = default_catalog();
        let test = catalog.service("test_usd_test").unwrap();
        let ok = json!({"status": "processed"});
        assert!(test.check_fields(ok.as_object()).is_empty());
        let errors = test.check_fields(None);
        assert_eq!(
            errors["service_fields.status"],
            "This value should not be blank."
        );
        let bad = json!({"status": "pro cessed"});
        assert_eq!(
            test.check_fields(bad.as_object())["service_fields.status"],
            "This value is not valid."
        );
        let unknown = json!({"status": "bogus"});
        assert!(
            test.check_fields(unknown.as_object())["service_fields.status"]
                .starts_with("This value should be one of")
        );
        let wrong_type = json!({"status": 5});
        assert_eq!(
            test.check_fields(wrong_type.as_object())["service_fields.status"],
            "This value should be of type string."
        );
    }
}
