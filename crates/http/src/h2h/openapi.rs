//! The H2H API's OpenAPI document, generated from the handlers and their
//! types. The signature is a field of the body, over the body's other
//! fields, which no OpenAPI security scheme can say: the document's
//! description and the `Credentials` schema say it.

use utoipa::OpenApi;

use super::{balance, booking, payouts};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kassa H2H API",
        description = "Server-to-server JSON bodies signed with the merchant's H2H secret. \
            Every request carries `merchant_id`, `site_id`, `site_login` and `signature`: \
            lowercase hex `HMAC-SHA256(h2h_secret, canonical)`, where `canonical` is every \
            top-level field except `signature` and nulls, sorted by key, written `key:value;` \
            (a string as is, a number in its decimal form, `true`/`false`, an object or array \
            as compact JSON with sorted keys). Signed with `h2h_test_secret`, a request runs \
            in test mode. A top-level key holding `:` or `;`, or a top-level string holding \
            `;` or starting with `{` or `[`, is refused (400): it would make the signed text \
            ambiguous. Answers carry a `signature` made the same way. Amounts are integers \
            of minor units. Errors are `{\"error\": \"...\"}`; field errors also list each \
            field in `fields`. Each path is also served with a trailing slash.",
    ),
    paths(booking::book_cabinet, payouts::payout, balance::balance),
    tags(
        (name = "book_cabinet", description = "A unique pay-in amount held on a trader's cabinet."),
        (name = "payout", description = "Payouts; their callbacks carry the same signed body."),
        (name = "balance", description = "The merchant's balances."),
    )
)]
pub struct H2hDoc;
