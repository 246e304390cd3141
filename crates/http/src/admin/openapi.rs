//! The admin API's OpenAPI document, generated from the handlers and their
//! types.

use utoipa::OpenApi;

use super::{merchants, operations, rates, traders};
use crate::trader::{BearerToken, ClosedBodies};

/// The bodies this face reads, every one refusing unknown fields.
const ADMIN_BODIES: ClosedBodies = ClosedBodies(&[
    "ActiveBody",
    "AmountRuleBody",
    "DepositBody",
    "MerchantPatch",
    "NewCabinetBody",
    "NewTraderBody",
    "NoFields",
    "RateBody",
    "ResolveBody",
    "SettleBody",
]);

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kassa admin API",
        description = "The operator's API, authenticated by `Authorization: Bearer \
            <admin_token>` (the configuration's `admin_token`; with none set every request \
            is refused). Requisites are shown masked. Every error is \
            `{\"error\": {\"code\", \"message\", \"fields\"}}`, `fields` naming each bad field \
            of a 422; a field a body does not take is refused as not allowed.",
    ),
    paths(
        merchants::list,
        merchants::get,
        merchants::patch,
        traders::list,
        traders::create,
        traders::get,
        traders::change_deposit,
        traders::list_cabinets,
        traders::add_cabinet,
        traders::list_deals,
        operations::set_cabinet_active,
        operations::get_deal,
        operations::confirm_deal,
        operations::resolve_deal,
        operations::settle_deal,
        operations::list_notifications,
        operations::list_messages,
        operations::callback_stats,
        rates::get,
        rates::put,
        rates::get_rule,
        rates::put_rule
    ),
    modifiers(&BearerToken, &ADMIN_BODIES),
    tags(
        (name = "merchants", description = "Merchants' settings."),
        (name = "traders", description = "Traders, their collateral, cabinets and deals."),
        (name = "operations", description = 
            "Deals, disputes, notifications, bank messages and callbacks."),
        (name = "rates", description = "Rates and amount rules, per currency."),
    )
)]
pub struct AdminDoc;
