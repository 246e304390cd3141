//! The Checkout API's OpenAPI documents, generated from the handlers and
//! their types: one for the public API (the public key), one for the
//! private API (the private key).

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{account, invoices, public, refunds};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kassa Checkout API: public",
        description = "What a page or an app holding only the merchant's public key may do. \
            The key travels as `public_key` in the body, or in the query of a GET. \
            Errors are `{\"errors\": [{\"status\", \"code\", \"detail\"}]}`, and a 422 names \
            each bad field: `{\"errors\": {\"field\": \"message\"}}`.",
    ),
    paths(
        public::prerequest,
        public::create_public,
        public::create_from_form,
        public::get_public
    ),
    tags((name = "public", description = "The public key's API and the payment link."))
)]
pub struct CheckoutPublicDoc;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kassa Checkout API: private",
        description = "The merchant's server-side API, authenticated by HTTP Basic with the \
            private key's id and secret; the key's mode (test or live) is the mode of all \
            it sees. Errors are `{\"errors\": [{\"status\", \"code\", \"detail\"}]}`, and a \
            422 names each bad field: `{\"errors\": {\"field\": \"message\"}}`. Callbacks \
            carry the invoice as `GET /api/payment-invoices/{id}` shows it, signed in \
            `X-Signature`: base64(sha1(secret + body + secret)).",
    ),
    paths(
        invoices::create_private,
        invoices::get_private,
        invoices::list_invoices,
        invoices::resend_callback,
        refunds::create_refund,
        refunds::list_refunds,
        refunds::get_refund,
        account::list_services,
        account::get_service,
        account::balance,
        account::daily_report
    ),
    modifiers(&PrivateKey),
    tags(
        (name = "invoices", description = "Invoices and their callbacks."),
        (name = "refunds", description = "Refunds of processed invoices: several per invoice, up to its processed amount."),
        (name = "account", description = "Services, balances and statements."),
    )
)]
pub struct CheckoutPrivateDoc;

/// HTTP Basic with the private key's id and secret.
struct PrivateKey;

impl Modify for PrivateKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "private_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
    }
}
