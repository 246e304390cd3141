//! The durable store. The engine speaks to it through [`Tx`], one method per
//! question or change it needs; implementations keep their SQL to themselves.
//!
//! Writes are closures run inside a transaction by [`write`]; the caller's
//! future resolves only after the commit that holds the change, so an answer
//! sent after it is durable. Reads run on their own connections and never wait
//! for the writer.

mod postgres;
mod sqlite;

use kassa_domain::bank_message::{BankMessage, MessageKind, MessagePattern, TraderDevice};
use kassa_domain::ledger::Transaction;
use kassa_domain::merchant::CredentialKind;
use kassa_domain::payout::Payout;
use kassa_domain::refund::Refund;
use kassa_domain::{
    AuditEntry, BankNotification, Cabinet, Callback, CallbackAttempt, Deal, Hold, Invoice,
    Merchant, Method, Service, Trader, WebRealm, WebSession, WebUser,
};
use serde_json::Value;

pub use postgres::{PgOptions, PgStore};
pub use sqlite::SqliteStore;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A unique key is taken (the caller decides what that means).
    #[error("duplicate key: {0}")]
    Duplicate(String),
    #[error("store: {0}")]
    Backend(String),
    #[error("the store is closed")]
    Closed,
    /// The database cannot be reached in time, or is shedding load (a lost
    /// connection, a statement timeout, a lock wait that ran out). Nothing is
    /// known to be committed; the caller may try again.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A value the store cannot hold as text (a NUL character in a key).
    #[error("text the store cannot hold")]
    InvalidText,
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Where a page of invoices starts: after (older than) or before (newer than)
/// an invoice id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cursor {
    First,
    After(String),
    Before(String),
}

/// What a person looks for among a merchant's invoices of one mode; every
/// part left `None` matches all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InvoiceSearch {
    /// An invoice id or the merchant's reference, exactly.
    pub id_or_reference: Option<String>,
    /// `InvoiceStatus::as_str`.
    pub status: Option<String>,
    /// Created at or after.
    pub from_secs: Option<i64>,
    /// Created before.
    pub to_secs: Option<i64>,
    pub currency: Option<String>,
    /// Only with a currency: the amount asked for, in its minor units.
    pub amount_minor: Option<i64>,
}

/// The callback backlog in the database, every node's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CallbackCounts {
    /// Pending: not yet delivered, not given up.
    pub owed: u64,
    /// Pending and claimable now (due, not leased, and first of its
    /// invoice's pending callbacks).
    pub due: u64,
    /// Pending and claimed by a node whose lease has not run out.
    pub leased: u64,
    /// Given up after the last attempt.
    pub failed: u64,
}

/// An amount held on a trader's cabinet: by a live hold (`rate` `None`) or
/// an open deal (the rate it was made at, if there was one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldAmount {
    pub currency: String,
    pub amount_minor: i64,
    pub rate: Option<String>,
}

/// Open P2P work on the cabinets of one currency and mode.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenP2p {
    pub currency: String,
    pub test_mode: bool,
    /// `book_cabinet` holds not lapsed and not taken by a deal.
    pub holds: u64,
    /// Deals waiting for the customer's transfer.
    pub deals: u64,
}

/// What a store is doing now, read when metrics are scraped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Write jobs submitted and not yet begun (SQLite's writer queue).
    pub write_queue: u64,
    /// Connections open (idle or lent) and idle, and the pool's bound
    /// (PostgreSQL).
    pub connections_open: u64,
    pub connections_idle: u64,
    pub connections_max: u64,
    /// Jobs waiting for a connection to come free.
    pub connection_waiters: u64,
}

/// One page of a listing, newest first, and whether more lie on either side.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_newer: bool,
    pub has_older: bool,
}

/// Everything the engine asks of a store, inside one transaction.
///
/// Inside a write, a read of a row whose state the engine decides on (an
/// invoice, deal, payout, hold or callback by id, the open deal of a
/// cabinet's amount) sees the row as it is now and keeps it from every other
/// writer until the transaction ends, so a change is always decided against
/// the current state. The engine takes deals before their invoices.
///
/// The area traits below are its parts; one per area keeps each backend's
/// queries in a file per area, and `&mut dyn Tx` calls them all without
/// importing them.
pub trait Tx:
    MerchantTx
    + InvoiceTx
    + CallbackTx
    + P2pTx
    + LedgerTx
    + PayoutTx
    + RefundTx
    + WebTx
    + ConsoleTx
    + EvidenceTx
{
}

impl<T> Tx for T where
    T: MerchantTx
        + InvoiceTx
        + CallbackTx
        + P2pTx
        + LedgerTx
        + PayoutTx
        + RefundTx
        + WebTx
        + ConsoleTx
        + EvidenceTx
        + ?Sized
{
}

/// Merchants, their credentials, the catalog of methods and services, and settings.
pub trait MerchantTx {
    fn insert_merchant(&mut self, merchant: &Merchant) -> StoreResult<()>;
    fn update_merchant(&mut self, merchant: &Merchant) -> StoreResult<()>;
    fn merchant(&mut self, id: &str) -> StoreResult<Option<Merchant>>;
    fn merchants(&mut self) -> StoreResult<Vec<Merchant>>;
    /// The merchant a public key or private key id belongs to, and its mode.
    fn merchant_by_credential(
        &mut self,
        kind: CredentialKind,
        key: &str,
    ) -> StoreResult<Option<(Merchant, bool)>>;
    fn next_site_id(&mut self) -> StoreResult<i64>;
    /// Another credential of a merchant's mode (a new private key).
    fn insert_credential(
        &mut self,
        kind: CredentialKind,
        key: &str,
        merchant_id: &str,
        test_mode: bool,
    ) -> StoreResult<()>;
    fn delete_credential(&mut self, kind: CredentialKind, key: &str) -> StoreResult<()>;

    fn put_method(&mut self, method: &Method) -> StoreResult<()>;
    fn methods(&mut self) -> StoreResult<Vec<Method>>;
    fn put_service(&mut self, service: &Service) -> StoreResult<()>;
    fn service(&mut self, code: &str) -> StoreResult<Option<Service>>;
    fn services(&mut self) -> StoreResult<Vec<Service>>;

    fn put_setting(&mut self, key: &str, value: &Value) -> StoreResult<()>;
    fn setting(&mut self, key: &str) -> StoreResult<Option<Value>>;
}

/// Invoices.
pub trait InvoiceTx {
    /// Fails with [`StoreError::Duplicate`] when the reference id is taken.
    fn insert_invoice(&mut self, invoice: &Invoice) -> StoreResult<()>;
    fn update_invoice(&mut self, invoice: &Invoice) -> StoreResult<()>;
    fn invoice(&mut self, id: &str) -> StoreResult<Option<Invoice>>;
    fn invoice_by_reference(
        &mut self,
        merchant_id: &str,
        test_mode: bool,
        reference_id: &str,
    ) -> StoreResult<Option<Invoice>>;
    fn invoices(
        &mut self,
        merchant_id: &str,
        test_mode: bool,
        cursor: &Cursor,
        limit: usize,
    ) -> StoreResult<Page<Invoice>>;
    fn count_invoices(&mut self, merchant_id: &str) -> StoreResult<u64>;
    /// Open invoices whose expiry is at or before `now_secs`, oldest first.
    fn invoices_due_to_expire(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Invoice>>;
    /// Open invoices with a test outcome still to apply.
    fn invoices_with_test_outcome(&mut self, limit: usize) -> StoreResult<Vec<Invoice>>;
}

/// Callbacks owed to merchants and their delivery attempts.
pub trait CallbackTx {
    fn insert_callback(&mut self, callback: &Callback) -> StoreResult<()>;
    fn update_callback(&mut self, callback: &Callback) -> StoreResult<()>;
    fn callback(&mut self, id: &str) -> StoreResult<Option<Callback>>;
    fn callbacks_for_invoice(&mut self, invoice_id: &str) -> StoreResult<Vec<Callback>>;
    /// Pending callbacks due at `now_secs` whose lease has run out and with
    /// no earlier pending callback of their invoice: an invoice's callbacks
    /// are claimed one at a time, in the order they were owed, across retries
    /// and nodes. One failed for good holds back none behind it.
    fn due_callbacks(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Callback>>;
    /// How many callbacks are owed, due, leased and failed at `now_secs`.
    fn callback_counts(&mut self, now_secs: i64) -> StoreResult<CallbackCounts>;
    /// Pending callbacks waiting for a later attempt (a retry, or a host's
    /// circuit), soonest first.
    fn waiting_callbacks(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Callback>>;
    fn insert_callback_attempt(&mut self, attempt: &CallbackAttempt) -> StoreResult<()>;
    fn callback_attempts(&mut self, invoice_id: &str) -> StoreResult<Vec<CallbackAttempt>>;
}

/// P2P: traders, cabinets, slots and holds, deals, bank notifications, devices, bank messages and their patterns.
pub trait P2pTx {
    /// Live holds and open deals by the currency and mode of their cabinets.
    fn open_p2p(&mut self, now_secs: i64) -> StoreResult<Vec<OpenP2p>>;
    /// Bank notifications no deal was found for, (test mode, count) by the
    /// mode of the trader who posted them.
    fn unmatched_notifications(&mut self) -> StoreResult<Vec<(bool, u64)>>;

    fn insert_trader(&mut self, trader: &Trader) -> StoreResult<()>;
    fn update_trader(&mut self, trader: &Trader) -> StoreResult<()>;
    fn trader(&mut self, id: &str) -> StoreResult<Option<Trader>>;
    fn trader_by_token(&mut self, token_sha256: &str) -> StoreResult<Option<Trader>>;
    fn traders(&mut self) -> StoreResult<Vec<Trader>>;

    fn insert_cabinet(&mut self, cabinet: &Cabinet) -> StoreResult<()>;
    fn update_cabinet(&mut self, cabinet: &Cabinet) -> StoreResult<()>;
    fn cabinet(&mut self, id: &str) -> StoreResult<Option<Cabinet>>;
    /// A cabinet about to be switched: inside a write, locked until the
    /// write ends, so the switch is decided on its current row.
    fn cabinet_to_switch(&mut self, id: &str) -> StoreResult<Option<Cabinet>>;
    /// Every active cabinet, of every method and mode.
    fn all_active_cabinets(&mut self) -> StoreResult<Vec<Cabinet>>;
    fn cabinets_of_trader(&mut self, trader_id: &str) -> StoreResult<Vec<Cabinet>>;
    /// Active cabinets of a method and currency.
    fn active_cabinets(&mut self, method: &str, currency: &str) -> StoreResult<Vec<Cabinet>>;
    /// Open deals per cabinet, for the cabinets that have any.
    fn open_deal_counts(&mut self) -> StoreResult<Vec<(String, u32)>>;
    /// Amounts of a cabinet's deals made since `since_secs`, cancelled ones aside.
    fn turnover_since(&mut self, cabinet_id: &str, since_secs: i64) -> StoreResult<i64>;
    /// The amounts a cabinet has in use at `now_secs`: live holds and open deals.
    fn slots_in_use(&mut self, cabinet_id: &str, now_secs: i64) -> StoreResult<u32>;
    /// What a trader's cabinets hold at `now_secs`: live holds and open deals.
    fn held_of_trader(&mut self, trader_id: &str, now_secs: i64) -> StoreResult<Vec<HeldAmount>>;

    /// Takes the hold's (cabinet, amount) when it is free or its hold lapsed
    /// by `now_secs`, in one statement. True when taken.
    fn take_slot(&mut self, hold: &Hold, now_secs: i64) -> StoreResult<bool>;
    /// The cabinets on which `amount_minor` is held live at `now_secs`.
    fn cabinets_holding(&mut self, amount_minor: i64, now_secs: i64) -> StoreResult<Vec<String>>;
    fn hold(&mut self, hold_id: &str) -> StoreResult<Option<Hold>>;
    fn update_hold(&mut self, hold: &Hold) -> StoreResult<()>;
    /// Frees the amount a hold or deal kept.
    fn release_hold(&mut self, hold_id: &str) -> StoreResult<()>;
    /// The merchant's live holds of an amount that no deal owns yet.
    fn live_holds_of_merchant(
        &mut self,
        merchant_id: &str,
        amount_minor: i64,
        now_secs: i64,
    ) -> StoreResult<Vec<Hold>>;
    fn hold_request(&mut self, merchant_id: &str, request_id: &str) -> StoreResult<Option<Value>>;
    /// Every book_cabinet answer of a merchant.
    fn hold_requests(&mut self, merchant_id: &str) -> StoreResult<Vec<Value>>;
    fn insert_hold_request(
        &mut self,
        merchant_id: &str,
        request_id: &str,
        answer: &Value,
    ) -> StoreResult<()>;

    fn insert_deal(&mut self, deal: &Deal) -> StoreResult<()>;
    fn update_deal(&mut self, deal: &Deal) -> StoreResult<()>;
    fn deal(&mut self, id: &str) -> StoreResult<Option<Deal>>;
    fn open_deal_at(&mut self, cabinet_id: &str, amount_minor: i64) -> StoreResult<Option<Deal>>;
    fn deals_of_trader(
        &mut self,
        trader_id: &str,
        open_only: bool,
        limit: usize,
    ) -> StoreResult<Vec<Deal>>;
    /// A cabinet's deals made at or after `since_secs`, newest first.
    fn recent_deals_of_cabinet(
        &mut self,
        cabinet_id: &str,
        since_secs: i64,
        limit: usize,
    ) -> StoreResult<Vec<Deal>>;
    /// Open deals whose deadline is at or before `now_secs`.
    fn deals_due(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Deal>>;

    /// Fails with [`StoreError::Duplicate`] on a repeated (trader, external id).
    fn insert_notification(&mut self, notification: &BankNotification) -> StoreResult<()>;
    fn notification_by_external(
        &mut self,
        trader_id: &str,
        external_id: &str,
    ) -> StoreResult<Option<BankNotification>>;
    /// Newest first; `trader_id` None: every trader's.
    fn notifications(
        &mut self,
        trader_id: Option<&str>,
        unmatched_only: bool,
        limit: usize,
    ) -> StoreResult<Vec<BankNotification>>;

    fn insert_device(&mut self, device: &TraderDevice) -> StoreResult<()>;
    fn update_device(&mut self, device: &TraderDevice) -> StoreResult<()>;
    /// Inside a write, the device is locked until the write ends.
    fn device(&mut self, id: &str) -> StoreResult<Option<TraderDevice>>;
    fn device_by_token(&mut self, token_hash: &str) -> StoreResult<Option<TraderDevice>>;
    /// Oldest first.
    fn devices_of_trader(&mut self, trader_id: &str) -> StoreResult<Vec<TraderDevice>>;

    /// Fails with [`StoreError::Duplicate`] on a repeated (device, dedup key).
    fn insert_bank_message(&mut self, message: &BankMessage) -> StoreResult<()>;
    fn bank_message_by_key(
        &mut self,
        device_id: &str,
        dedup_key: &str,
    ) -> StoreResult<Option<BankMessage>>;
    /// Newest first; `trader_id` None: every trader's; `kind` None: every kind.
    fn bank_messages(
        &mut self,
        trader_id: Option<&str>,
        kind: Option<MessageKind>,
        limit: usize,
    ) -> StoreResult<Vec<BankMessage>>;

    fn insert_message_pattern(&mut self, pattern: &MessagePattern) -> StoreResult<()>;
    /// In the order they were added.
    fn message_patterns(&mut self) -> StoreResult<Vec<MessagePattern>>;
    /// True when there was one.
    fn delete_message_pattern(&mut self, id: &str) -> StoreResult<bool>;
}

/// The ledger, reserves, and the locks and savepoints that guard them.
pub trait LedgerTx {
    /// Holds an account until the transaction ends, so that checking its
    /// balance and posting to it is one step for every process (a no-op where
    /// a single writer already serializes writes).
    fn lock_account(&mut self, key: &str) -> StoreResult<()>;
    /// Takes a lock on `key` until the transaction ends, if no other
    /// transaction holds it now; never waits, so transactions that take
    /// several such locks in any order cannot deadlock. True when taken
    /// (always where a single writer already serializes writes).
    fn try_lock(&mut self, key: &str) -> StoreResult<bool>;
    /// Runs `work` in a savepoint: when it answers false (or a statement in it
    /// failed) its changes alone are undone and the transaction goes on. True
    /// when its changes were kept. One failing item of a sweep thus leaves
    /// the others.
    fn apart(&mut self, work: &mut dyn FnMut(&mut dyn Tx) -> bool) -> StoreResult<bool>;
    /// Writes a balanced transaction and its postings.
    fn insert_transaction(&mut self, txn: &Transaction) -> StoreResult<()>;
    /// The sum of an account's postings in a currency, before a time if given.
    fn balance(
        &mut self,
        account: &str,
        currency: &str,
        before_secs: Option<i64>,
    ) -> StoreResult<i64>;
    /// (account, currency, balance) of every account whose key starts with the
    /// prefix (`merchant:<id>:`, `""` for all).
    fn balances(&mut self, account_prefix: &str) -> StoreResult<Vec<(String, String, i64)>>;
    /// Transactions with a posting on those accounts in `[from, to)`.
    fn transactions_touching(
        &mut self,
        account_prefix: &str,
        from_secs: i64,
        to_secs: i64,
    ) -> StoreResult<Vec<Transaction>>;
    fn insert_reserve(
        &mut self,
        id: &str,
        merchant_id: &str,
        release_at_secs: i64,
        doc: &Value,
    ) -> StoreResult<()>;
    fn due_reserves(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<(String, Value)>>;
    fn mark_reserve_released(&mut self, id: &str) -> StoreResult<()>;
}

/// Payouts.
pub trait PayoutTx {
    /// Fails with [`StoreError::Duplicate`] when the request id is taken.
    fn insert_payout(&mut self, payout: &Payout) -> StoreResult<()>;
    fn update_payout(&mut self, payout: &Payout) -> StoreResult<()>;
    fn payout(&mut self, id: &str) -> StoreResult<Option<Payout>>;
    fn payout_by_request(
        &mut self,
        merchant_id: &str,
        test_mode: bool,
        request_id: &str,
    ) -> StoreResult<Option<Payout>>;
    /// Live pending payouts of a method and currency, oldest first.
    fn offered_payouts(
        &mut self,
        method: &str,
        currency: &str,
        limit: usize,
    ) -> StoreResult<Vec<Payout>>;
    fn payouts_of_trader(&mut self, trader_id: &str, limit: usize) -> StoreResult<Vec<Payout>>;
    /// Unfinished payouts whose deadline is at or before `now_secs`.
    fn payouts_due(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Payout>>;
    fn payouts_with_test_outcome(&mut self, limit: usize) -> StoreResult<Vec<Payout>>;
}

/// Refunds.
pub trait RefundTx {
    /// Fails with [`StoreError::Duplicate`] when the reference id is taken.
    fn insert_refund(&mut self, refund: &Refund) -> StoreResult<()>;
    fn update_refund(&mut self, refund: &Refund) -> StoreResult<()>;
    fn refund(&mut self, id: &str) -> StoreResult<Option<Refund>>;
    fn refund_by_reference(
        &mut self,
        merchant_id: &str,
        test_mode: bool,
        reference_id: &str,
    ) -> StoreResult<Option<Refund>>;
    /// An invoice's refunds, oldest first.
    fn refunds_of_invoice(&mut self, invoice_id: &str) -> StoreResult<Vec<Refund>>;
    /// Refunds the test provider is due to settle at `now_secs`, soonest first.
    fn refunds_due_for_test(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Refund>>;
}

/// The tables of Kassa's pages (web users and sessions) and the portal's listings.
pub trait WebTx {
    /// Invoices matching `search`, newest first, `limit` of them after
    /// skipping `offset`.
    fn search_invoices(
        &mut self,
        merchant_id: &str,
        test_mode: bool,
        search: &InvoiceSearch,
        offset: usize,
        limit: usize,
    ) -> StoreResult<Vec<Invoice>>;
    /// A merchant's payouts of one mode, newest first, `limit` of them after
    /// skipping `offset`; `status` (`PayoutStatus::as_str`) narrows them.
    fn payouts_of_merchant(
        &mut self,
        merchant_id: &str,
        test_mode: bool,
        status: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> StoreResult<Vec<Payout>>;
    /// The ledger transactions of an invoice, payout or reserve, oldest first.
    fn transactions_of(&mut self, reference: &str) -> StoreResult<Vec<Transaction>>;

    /// Fails with [`StoreError::Duplicate`] when the realm has the email.
    fn insert_web_user(&mut self, user: &WebUser) -> StoreResult<()>;
    fn update_web_user(&mut self, user: &WebUser) -> StoreResult<()>;
    fn web_user(&mut self, id: &str) -> StoreResult<Option<WebUser>>;
    fn web_user_by_email(&mut self, realm: WebRealm, email: &str) -> StoreResult<Option<WebUser>>;
    fn web_users_of(&mut self, realm: WebRealm, subject_id: &str) -> StoreResult<Vec<WebUser>>;
    fn insert_web_session(&mut self, session: &WebSession) -> StoreResult<()>;
    fn web_session(&mut self, token_hash: &str) -> StoreResult<Option<WebSession>>;
    fn touch_web_session(&mut self, token_hash: &str, now_secs: i64) -> StoreResult<()>;
    fn delete_web_session(&mut self, token_hash: &str) -> StoreResult<()>;
    /// Ends every session of a user (a new password, a lock by the operator).
    fn delete_web_sessions_of(&mut self, user_id: &str) -> StoreResult<()>;
}

/// The operator console: listings over every trader, the hand matching of
/// a bank notification, and the audit log.
pub trait ConsoleTx {
    /// Every trader's deals, newest first; `status` (`DealStatus::as_str`)
    /// and `trader_id` narrow them.
    fn deals(
        &mut self,
        status: Option<&str>,
        trader_id: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Deal>>;
    /// A bank notification by id; inside a write, locked until it ends.
    fn notification(&mut self, id: &str) -> StoreResult<Option<BankNotification>>;
    fn update_notification(&mut self, notification: &BankNotification) -> StoreResult<()>;
    /// Payouts no trader has taken yet, both modes, oldest first.
    fn waiting_payouts(&mut self, limit: usize) -> StoreResult<Vec<Payout>>;
    fn insert_audit(&mut self, entry: &AuditEntry) -> StoreResult<()>;
    /// Newest first.
    fn audit_log(&mut self, limit: usize) -> StoreResult<Vec<AuditEntry>>;
}

/// The bytes of receipts customers upload to a dispute (their deal lists
/// them).
pub trait EvidenceTx {
    fn insert_evidence(
        &mut self,
        deal_id: &str,
        evidence: &kassa_domain::evidence::Evidence,
        body: &[u8],
    ) -> StoreResult<()>;
    /// A receipt's content type and bytes.
    fn evidence_file(&mut self, id: &str) -> StoreResult<Option<(String, Vec<u8>)>>;
}

/// What a write job does once its commit is known.
pub type Done = Box<dyn FnOnce(StoreResult<()>) + Send>;

/// A unit of work for the writer.
pub trait WriteJob: Send {
    /// Runs inside the transaction; says whether to keep the changes, and
    /// what to do once the commit is known.
    fn run(self: Box<Self>, tx: &mut dyn Tx) -> (bool, Done);
    /// The store could not run the job at all (no connection, no
    /// transaction); nothing was changed.
    fn refuse(self: Box<Self>, error: StoreError);
}

/// A unit of work on a read snapshot.
pub trait ReadJob: Send {
    fn run(self: Box<Self>, tx: &mut dyn Tx);
    fn refuse(self: Box<Self>, error: StoreError);
}

pub trait Store: Send + Sync + 'static {
    fn submit_write(&self, job: Box<dyn WriteJob>);
    fn submit_read(&self, job: Box<dyn ReadJob>);
    /// Applies the migrations this build knows and the store has not seen.
    fn migrate(&self) -> StoreResult<()>;
    /// Queue and pool figures, cheap to read (no query).
    fn stats(&self) -> StoreStats;
}

/// A job built from a closure and the channel its caller waits on.
struct Job<F, T> {
    work: F,
    reply: tokio::sync::oneshot::Sender<T>,
}

impl<R, E, F> WriteJob for Job<F, Result<R, E>>
where
    R: Send + 'static,
    E: From<StoreError> + Send + 'static,
    F: FnOnce(&mut dyn Tx) -> Result<R, E> + Send + 'static,
{
    fn run(self: Box<Self>, tx: &mut dyn Tx) -> (bool, Done) {
        let Job { work, reply } = *self;
        if reply.is_closed() {
            // The caller stopped waiting (it was answered 503) before the job
            // began: it is not run, so that answer changed nothing.
            return (false, Box::new(drop));
        }
        let result = work(tx);
        let keep = result.is_ok();
        let done: Done = Box::new(move |commit| {
            let _ = reply.send(match commit {
                Ok(()) => result,
                Err(e) => Err(E::from(e)),
            });
        });
        (keep, done)
    }

    fn refuse(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(E::from(error)));
    }
}

impl<R, E, F> ReadJob for Job<F, Result<R, E>>
where
    R: Send + 'static,
    E: From<StoreError> + Send + 'static,
    F: FnOnce(&mut dyn Tx) -> Result<R, E> + Send + 'static,
{
    fn run(self: Box<Self>, tx: &mut dyn Tx) {
        let Job { work, reply } = *self;
        if !reply.is_closed() {
            let _ = reply.send(work(tx));
        }
    }

    fn refuse(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(E::from(error)));
    }
}

/// A job dropped unanswered panicked: the store refuses jobs it cannot run.
fn unanswered() -> StoreError {
    StoreError::Backend("the job ended without an answer".into())
}

/// Runs `work` in a write transaction. `Ok` is returned after the commit;
/// on `Err` the work's changes are rolled back and nothing else is touched.
pub async fn write<R, E, F>(store: &dyn Store, work: F) -> Result<R, E>
where
    R: Send + 'static,
    E: From<StoreError> + Send + 'static,
    F: FnOnce(&mut dyn Tx) -> Result<R, E> + Send + 'static,
{
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job: Box<dyn WriteJob> = Box::new(Job { work, reply });
    store.submit_write(job);
    answer.await.unwrap_or(Err(E::from(unanswered())))
}

/// Runs `work` on a read connection, seeing one consistent snapshot.
pub async fn read<R, E, F>(store: &dyn Store, work: F) -> Result<R, E>
where
    R: Send + 'static,
    E: From<StoreError> + Send + 'static,
    F: FnOnce(&mut dyn Tx) -> Result<R, E> + Send + 'static,
{
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job: Box<dyn ReadJob> = Box::new(Job { work, reply });
    store.submit_read(job);
    answer.await.unwrap_or(Err(E::from(unanswered())))
}
