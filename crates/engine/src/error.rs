use std::collections::BTreeMap;

use kassa_store::StoreError;

/// What went wrong, in the engine's words; each face renders it in its own
/// dialect.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("unauthorized")]
    Unauthorized,
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    /// Field name (as the Checkout API names it) to message.
    #[error("invalid: {0:?}")]
    Invalid(BTreeMap<String, String>),
    #[error("conflict: {0}")]
    Conflict(String),
    /// No active cabinet matches the method, currency, bank and limits.
    #[error("Card not found")]
    NoCabinet,
    /// The merchant's available balance cannot cover it.
    #[error("insufficient funds")]
    InsufficientFunds,
    /// Every candidate amount is held on every matching cabinet.
    #[error("All generated amounts were already booked")]
    AmountsTaken,
    /// The database cannot be reached in time: answered 503, to be retried.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            // Only a client's key can carry such text: it names nothing.
            StoreError::InvalidText => EngineError::NotFound,
            StoreError::Unavailable(why) => EngineError::Unavailable(why),
            StoreError::Closed => EngineError::Unavailable("the store is closed".into()),
            e => EngineError::Store(e),
        }
    }
}

impl EngineError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        EngineError::Invalid(BTreeMap::from([(field.to_string(), message.into())]))
    }
}

pub type EngineResult<T> = Result<T, EngineError>;
