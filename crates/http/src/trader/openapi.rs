//! The trader API's OpenAPI document, generated from the handlers and their
//! types.

use utoipa::openapi::schema::{AdditionalProperties, Schema};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi};

use super::{cabinets, deals, devices, messages, notifications, payouts};

/// The bodies this face reads, every one refusing unknown fields.
const TRADER_BODIES: ClosedBodies = ClosedBodies(&[
    "ActiveBody",
    "DeviceBody",
    "DeviceCabinetsBody",
    "MessageBody",
    "NoFields",
    "NotificationBody",
    "ReceiptBody",
    "ResolveBody",
    "SettleBody",
]);

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kassa trader API",
        description = "A trader's own cabinets, deals, bank notifications, devices and bank \
            messages, and the payouts it executes, authenticated by `Authorization: Bearer \
            <trader token>` (bank messages: `Bearer <device token>`); what another \
            trader owns answers as unknown (404). Every error is \
            `{\"error\": {\"code\", \"message\", \"fields\"}}`, `fields` naming each bad field \
            of a 422; a field a body does not take is refused as not allowed.",
    ),
    paths(
        cabinets::list_own,
        cabinets::set_own_active,
        cabinets::collateral_own,
        deals::list_own,
        deals::get_own,
        deals::confirm_own,
        deals::resolve_own,
        deals::settle_own,
        notifications::post,
        notifications::list_own,
        messages::post,
        messages::list_own,
        devices::create,
        devices::list,
        devices::revoke,
        devices::set_cabinets,
        devices::heartbeat,
        payouts::list,
        payouts::offered,
        payouts::get,
        payouts::take,
        payouts::complete,
        payouts::decline
    ),
    modifiers(&BearerToken, &DeviceToken, &TRADER_BODIES),
    tags(
        (name = "cabinets", description = "The trader's cabinets: requisites and limits."),
        (name = "deals", description = "Deals: a customer's transfer to a cabinet."),
        (name = "notifications", description = "What the trader's bank told it."),
        (name = "messages", description = "Bank SMS and pushes the trader's devices forward."),
        (name = "devices", description = "The forwarding apps that post bank messages."),
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

/// `Authorization: Bearer <device token>`: one of the trader's devices, for
/// posting bank messages.
pub struct DeviceToken;

impl Modify for DeviceToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.description = Some("A device token (`kdt_...`) of the trader.".into());
        components.add_security_scheme("device", SecurityScheme::Http(scheme));
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
