//! The Merchant API's OpenAPI document, generated from the handlers and
//! their types.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{balance, invoices, refunds};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kassa Merchant API",
        description = "Pay-in invoices paid by a bank transfer to a trader's requisites (a P2P \
            deal), payout invoices (`type: out`) a trader pays from the merchant's balance, and \
            the balance. Every request is signed: `X-Identity` is the Merchant API key of the \
            mode, `X-Signature` the lowercase hex HMAC-SHA256, under the key's secret, of the \
            raw body of a POST, or of the path with its query (as sent) of a GET. Amounts are \
            decimal strings. Errors are `{\"error\": {\"code\", \"message\", \"fields\"}}`. \
            Refunds of completed pay-ins are paid out by a trader to the customer's requisites. \
            Callbacks carry the InvoiceDTO (a refund's, the RefundDTO), with `X-Notification-Token` and `X-Signature`: the \
            lowercase hex HMAC-SHA256 of the body under the callback secret.",
    ),
    paths(
        invoices::create, invoices::show, invoices::list,
        refunds::create, refunds::show, refunds::list,
        balance::balance
    ),
    modifiers(&Signed),
    tags(
        (name = "invoices", description = "Pay-ins and payouts."),
        (name = "refunds", description = "Refunds of completed pay-ins, paid out by traders \
            to the customer's requisites."),
        (name = "account", description = "Balances."),
    )
)]
pub struct MerchantDoc;

/// `X-Identity` and `X-Signature`, sent together. The signature depends on
/// the request, which a security scheme cannot say; the description does.
struct Signed;

impl Modify for Signed {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "identity",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Identity",
                "The Merchant API key of the mode (`ma_test_...`, `ma_live_...`).",
            ))),
        );
        components.add_security_scheme(
            "signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Signature",
                "Lowercase hex HMAC-SHA256 under the key's secret of the raw body of a POST, \
                 or of the path with its query of a GET.",
            ))),
        );
    }
}
