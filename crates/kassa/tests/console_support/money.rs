//! What the money pages' tests share: the service they change, the
//! balances and fees they read back, one valid post to each new form, and
//! the state those forms change, to compare before and after.

use kassa_domain::fee::FeeRule;
use kassa_domain::Currency;

use super::Visitor;
use crate::common::TestApp;

/// The service whose fee is changed.
pub const SERVICE: &str = "payment_card_usd_hpp";

pub fn usd() -> Currency {
    Currency::from_code("USD").unwrap()
}

/// The merchant's live available balance in USD, in cents.
pub async fn available_usd(app: &TestApp, merchant: &str) -> i64 {
    app.engine()
        .balances(merchant.to_string(), false)
        .await
        .unwrap()
        .iter()
        .find(|b| b.currency == usd())
        .map_or(0, |b| b.available_minor)
}

pub async fn service_fee(app: &TestApp) -> FeeRule {
    app.engine()
        .catalog()
        .await
        .unwrap()
        .service(SERVICE)
        .unwrap()
        .fee
}

/// A form's fields, owned.
pub type Form = Vec<(&'static str, String)>;

/// Posts a form with the session's CSRF token.
pub async fn post(v: &Visitor<'_>, csrf: &str, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let mut all = form.to_vec();
    all.push(("csrf", csrf));
    v.post(path, &all).await
}

/// What the money pages change, to compare before and after.
pub async fn state(app: &TestApp) -> String {
    let e = app.engine();
    let catalog = e.catalog().await.unwrap();
    let services = serde_json::to_string(&catalog.services).unwrap();
    let rates = format!("{:?}", e.rates().await.unwrap());
    let fees = format!("{:?}", e.payout_fees().await.unwrap());
    let merchants = e.merchants().await.unwrap().len();
    let mut balances = Vec::new();
    for m in e.merchants().await.unwrap() {
        for test in [false, true] {
            balances.push(format!(
                "{:?}",
                e.balances(m.id.clone(), test).await.unwrap()
            ));
        }
    }
    let audit = e.audit_log().await.unwrap().len();
    format!("{services}\n{rates}\n{fees}\n{merchants}\n{balances:?}\n{audit}")
}

/// One post to each new form, valid but for the role.
pub fn each_form(merchant: &str) -> Vec<(String, Vec<(&'static str, String)>)> {
    vec![
        (
            "/console/merchants".into(),
            vec![("name", "Shop".into()), ("currency", "USD".into())],
        ),
        (
            format!("/console/services/{SERVICE}"),
            vec![("fee_rate", "3".into())],
        ),
        (
            "/console/rates".into(),
            vec![("currency", "RUB".into()), ("rate", "0.01".into())],
        ),
        (
            "/console/payout-fees".into(),
            vec![("currency", "USD".into()), ("fix", "1.00".into())],
        ),
        (
            "/console/adjustments".into(),
            vec![
                ("merchant", merchant.into()),
                ("currency", "USD".into()),
                ("mode", "live".into()),
                ("direction", "credit".into()),
                ("amount", "10.00".into()),
                ("reason", "top-up".into()),
            ],
        ),
    ]
}
