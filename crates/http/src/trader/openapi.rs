//! The trader API's OpenAPI document, generated from the handlers and their
//! types.

use utoipa::openapi::schema::{AdditionalProperties, Schema};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi};

use super::{cabinets, deals, notifications, payouts};

/// The bodies this face reads, every one refusing unknown fields.
const TRADER_BODIES: ClosedBodies = ClosedBodies(&[
    "ActiveBody",
    "NoFields",
    "NotificationBody",
    "ReceiptBody",
    "ResolveBody",
]);

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kassa trader API",
        description = "A trader's own cabinets, deals, bank notifications and the payouts it \
            executes, authenticated by `Authorization: Bearer <trader token>`; what another \
            trader owns answers as unknown (404). Every error is \
            `{\"error\": {\"code\", \"message\", \"fields\"}}`, `fields` naming each bad field \
            of a 422; a field a body does not take is refused as not allowed.",
    ),
    paths(
        cabinets::list_own,
        cabinets::set_own_active,
        deals::list_own,
        deals::get_own,
        deals::confirm_own,
        deals::resolve_own,
        notifications::post,
        notifications::list_own,
        payouts::list,
        payouts::offered,
        payouts::get,
        payouts::take,
        payouts::complete,
        payouts::decline
    ),
    modifiers(&BearerToken, &TRADER_BODIES),
    tags(
        (name = "cabinets", description = "The trader's cabinets: requisites and limits."),
        (name = "deals", description = "Deals: a customer's transfer to a cabinet."),
        (name = "notifications", description = "What the trader's bank told it."),
        (name = "payouts", description = "Payouts the trader is offered and pays."),
    )
)]
pub struct TraderDoc;

/// `Authorization: Bearer <token>`: a trader's token, or the operator's.
pub struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The request bodies named: each refuses a field it does not take, which
/// the document says as `additionalProperties: false`.
pub struct ClosedBodies(pub &'static [&'static str]);

impl Modify for ClosedBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for name in self.0 {
            if let Some(RefOr::T(Schema::Object(body))) = components.schemas.get_mut(*name) {
                body.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
            }
        }
    }
}
