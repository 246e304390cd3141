//! The request bodies of the trader API (and the reader the admin API
//! shares) as types, and their meaning. Every field is read leniently
//! (`crate::field`) and a field a body's type does not read is refused, so
//! a 422 names each bad or misspelt field at once.

use std::collections::{BTreeMap, HashMap};

use axum::body::Body;
use kassa_engine::p2p::{NewMessage, NewNotification};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::ApiError;
use super::{Result, BODY_MAX_BYTES};
use crate::field::{read_object_strict, Field, Flag, Kind, NotAnObject, Text};

/// Reads at most [`BODY_MAX_BYTES`] of the body.
pub async fn read_body(body: Body) -> Result<axum::body::Bytes> {
    crate::read_limited(body, BODY_MAX_BYTES)
        .await
        .map_err(|e| match e {
            crate::BodyError::TooLarge => ApiError::PayloadTooLarge,
            crate::BodyError::Unreadable => {
                ApiError::BadRequest("The request body could not be read.".into())
            }
        })
}

/// A JSON object body as `T`, with a problem recorded for each field `T`
/// does not read; an empty body counts as `{}` when `allow_empty`.
pub async fn read_json<T: DeserializeOwned + Default>(
    body: Body,
    allow_empty: bool,
) -> Result<(T, Problems)> {
    let bytes = read_body(body).await?;
    if allow_empty && bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok((T::default(), Problems::default()));
    }
    let (dto, unknown) = read_object_strict(&bytes).map_err(|e| match e {
        NotAnObject::Other => ApiError::BadRequest("The body must be a JSON object.".into()),
        NotAnObject::Malformed(_) => ApiError::BadRequest("The body is not valid JSON.".into()),
    })?;
    let mut problems = Problems::default();
    for name in unknown {
        problems.fail(&name, "This field is not allowed.");
    }
    Ok((dto, problems))
}

/// This face's words for a field of the wrong kind.
pub fn wrong_kind(kind: Kind) -> &'static str {
    match kind {
        Kind::Bool => "This value should be true or false.",
        Kind::Integer => "This value should be an integer.",
        Kind::List => "This value should be a list.",
        Kind::Object => "This value should be an object.",
        Kind::String | Kind::Numeric => "This value should be a string.",
    }
}

/// Turns fields into values, one message per bad field (the first found).
#[derive(Default)]
pub struct Problems {
    errors: BTreeMap<String, String>,
}

impl Problems {
    pub fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors
            .entry(field.to_string())
            .or_insert_with(|| message.into());
    }

    pub fn has(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }

    /// The value of an optional field.
    pub fn optional<T>(&mut self, name: &str, field: Field<T>) -> Option<T> {
        match field {
            Field::Absent => None,
            Field::Given(v) => Some(v),
            Field::Wrong(kind) => {
                self.fail(name, wrong_kind(kind));
                None
            }
        }
    }

    /// A required field's value.
    pub fn required<T>(&mut self, name: &str, field: Field<T>) -> Option<T> {
        if matches!(field, Field::Absent) {
            self.fail(name, "This field is required.");
        }
        self.optional(name, field)
    }

    /// Any problem found is a 422.
    pub fn finish(self) -> Result<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Invalid(self.errors))
        }
    }
}

/// A body with no fields: empty, or `{}`.
#[derive(Default, Deserialize, ToSchema)]
pub struct NoFields {}

/// Switches a cabinet on or off.
#[derive(Default, Deserialize, ToSchema)]
pub struct ActiveBody {
    #[serde(default)]
    #[schema(value_type = bool, required = true)]
    pub active: Flag,
}

impl ActiveBody {
    pub fn active(self, mut p: Problems) -> Result<bool> {
        let active = p.required("active", self.active);
        p.finish()?;
        Ok(active.unwrap_or_default())
    }
}

/// How a dispute ends.
#[derive(Default, Deserialize, ToSchema)]
pub struct ResolveBody {
    /// `completed`: the money arrived; `canceled`: it did not.
    #[serde(default)]
    #[schema(value_type = String, required = true, pattern = "^(completed|canceled)$")]
    pub outcome: Text,
}

impl ResolveBody {
    /// Whether the deal completes.
    pub fn completes(self, mut p: Problems) -> Result<bool> {
        let complete = match p.required("outcome", self.outcome).as_deref() {
            Some("completed") => true,
            Some("canceled") | None => false,
            Some(_) => {
                p.fail("outcome", "Use completed or canceled.");
                false
            }
        };
        p.finish()?;
        Ok(complete)
    }
}

/// What arrived for a deal, when the customer sent another amount.
#[derive(Default, Deserialize, ToSchema)]
pub struct SettleBody {
    /// A decimal in the invoice's currency, e.g. `"950.00"`.
    #[serde(default)]
    #[schema(value_type = String, required = true, example = "950.00")]
    pub amount_received: Text,
}

impl SettleBody {
    pub fn amount(self, mut p: Problems) -> Result<String> {
        let amount = p.required("amount_received", self.amount_received);
        p.finish()?;
        Ok(amount.unwrap_or_default())
    }
}

/// A bank notification the trader forwards: money arrived on a cabinet.
#[derive(Default, Deserialize, ToSchema)]
pub struct NotificationBody {
    /// The trader's own id of the notification: a repeat with the same id
    /// answers with the one posted first.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub id: Text,
    /// The cabinet's id.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub cabinet: Text,
    /// The amount received, as decimal text in the cabinet's currency.
    #[serde(default)]
    #[schema(value_type = String, required = true, pattern = r"^[0-9]+(\.[0-9]+)?$")]
    pub amount: Text,
    /// The bank's message, as received.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub text: Text,
    /// When the bank received it (RFC 3339).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub time: Text,
}

impl NotificationBody {
    pub fn command(self, mut p: Problems) -> Result<NewNotification> {
        let external_id = p.required("id", self.id);
        let cabinet_id = p.required("cabinet", self.cabinet);
        let amount = p.required("amount", self.amount);
        let text = p.optional("text", self.text);
        let received_at_secs = p.optional("time", self.time).and_then(|t| {
            let secs = parse_time(&t);
            if secs.is_none() {
                p.fail(
                    "time",
                    "This value should be an RFC 3339 time such as 2024-05-01T12:00:00Z.",
                );
            }
            secs
        });
        p.finish()?;
        Ok(NewNotification {
            external_id: external_id.unwrap_or_default(),
            cabinet_id: cabinet_id.unwrap_or_default(),
            amount: amount.unwrap_or_default(),
            text,
            received_at_secs,
        })
    }
}

/// A bank SMS or push notification, as the forwarding app read it.
#[derive(Default, Deserialize, ToSchema)]
pub struct MessageBody {
    /// The SMS sender (`900`, `Tinkoff`) or the app that pushed it.
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 128)]
    pub sender: Text,
    /// The message as received.
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 1024)]
    pub text: Text,
    /// When the phone received it (RFC 3339). With the sender and the text it
    /// is what makes a message the same one again.
    #[serde(default)]
    #[schema(value_type = String, required = true, format = DateTime)]
    pub time: Text,
}

impl MessageBody {
    pub fn command(self, mut p: Problems) -> Result<NewMessage> {
        let sender = p.required("sender", self.sender);
        let text = p.required("text", self.text);
        let received_at_secs = p.required("time", self.time).and_then(|t| {
            let secs = parse_time(&t);
            if secs.is_none() {
                p.fail(
                    "time",
                    "This value should be an RFC 3339 time such as 2024-05-01T12:00:00Z.",
                );
            }
            secs
        });
        p.finish()?;
        Ok(NewMessage {
            sender: sender.unwrap_or_default(),
            text: text.unwrap_or_default(),
            received_at_secs: received_at_secs.unwrap_or_default(),
        })
    }
}

/// A new device of the trader.
#[derive(Default, Deserialize, ToSchema)]
pub struct DeviceBody {
    /// What the trader calls it (`Pixel 7, Sber card`).
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 100)]
    pub name: Text,
    /// The trader's cabinets it forwards for; absent or empty: all of them.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>, max_items = 100)]
    pub cabinets: Field<Vec<String>>,
}

impl DeviceBody {
    /// The device's name and the cabinets it forwards for.
    pub fn command(self, mut p: Problems) -> Result<(String, Vec<String>)> {
        let name = p.required("name", self.name);
        let cabinets = p.optional("cabinets", self.cabinets);
        p.finish()?;
        Ok((name.unwrap_or_default(), cabinets.unwrap_or_default()))
    }
}

/// The cabinets a device forwards for.
#[derive(Default, Deserialize, ToSchema)]
pub struct DeviceCabinetsBody {
    /// The trader's cabinets; empty: all of them.
    #[serde(default)]
    #[schema(value_type = Vec<String>, required = true, max_items = 100)]
    pub cabinets: Field<Vec<String>>,
}

impl DeviceCabinetsBody {
    pub fn cabinets(self, mut p: Problems) -> Result<Vec<String>> {
        let cabinets = p.required("cabinets", self.cabinets);
        p.finish()?;
        Ok(cabinets.unwrap_or_default())
    }
}

/// A payout is paid: the transfer's receipt.
#[derive(Default, Deserialize, ToSchema)]
pub struct ReceiptBody {
    /// The bank's reference of the transfer.
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 255)]
    pub receipt: Text,
}

impl ReceiptBody {
    pub fn receipt(self, mut p: Problems) -> Result<String> {
        let receipt = p.required("receipt", self.receipt).unwrap_or_default();
        if !p.has("receipt") && (receipt.trim().is_empty() || receipt.len() > 255) {
            p.fail("receipt", "This value should be 1 to 255 characters.");
        }
        p.finish()?;
        Ok(receipt)
    }
}

/// An RFC 3339 time as seconds since the epoch.
fn parse_time(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp())
}

/// The query's parameters (the last of a repeated one wins); a parameter not
/// in `allowed` is refused.
pub fn query(raw: Option<String>, allowed: &[&str]) -> Result<HashMap<String, String>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|_| ApiError::BadRequest("Malformed query string.".into()))?;
    let mut errors = BTreeMap::new();
    let mut out = HashMap::new();
    for (key, value) in pairs {
        if allowed.contains(&key.as_str()) {
            out.insert(key, value);
        } else {
            errors.insert(key, "This parameter is not allowed.".to_string());
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::Invalid(errors))
    }
}

/// A `true`/`false` query parameter; absent is `false`.
pub fn query_flag(q: &HashMap<String, String>, key: &str) -> Result<bool> {
    match q.get(key).map(String::as_str) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") | Some("") => Ok(true),
        Some(_) => Err(ApiError::invalid(
            key,
            "This value should be true or false.",
        )),
    }
}
