//! Kassa's domain: the rules of money, invoices and the catalog, free of I/O.

pub mod actor;
pub mod audit;
pub mod bank_message;
pub mod catalog;
pub mod evidence;
pub mod fee;
pub mod ids;
pub mod invoice;
pub mod money;

pub use actor::Actor;
pub use catalog::{Catalog, Field, Flow, Localized, Method, Service};
pub use fee::{FeeRule, ReserveRule};
pub use invoice::{
    Customer, Invoice, InvoiceStatus, MerchantApiFields, PaymentFlow, Resolution, ReturnUrls,
    Source,
};
pub use money::{AmountError, Currency};
pub mod cabinet_health;
pub mod callback;
pub mod collateral;
pub mod merchant;

pub use callback::{Callback, CallbackAttempt, CallbackFace, CallbackState, CallbackStatuses};
pub use merchant::{CredentialKind, Credentials, Merchant};
pub mod p2p;

pub use p2p::{
    AlternativeRule, BankNotification, Cabinet, Deal, DealStatus, Direction, DisabledReason, Hold,
    Trader,
};
pub mod ledger;
pub mod payout;
pub mod refund;
pub mod web;

pub use audit::AuditEntry;
pub use refund::{Refund, RefundFee, RefundStatus};
pub use web::{OperatorRole, WebRealm, WebSession, WebUser};
