//! What the merchant portal reads: invoices found by what a person knows of
//! them, and everything about one invoice on one page.

use kassa_domain::ledger::Transaction;
use kassa_domain::payout::Payout;
use kassa_domain::{Callback, CallbackAttempt, Deal, Invoice};
use kassa_store::InvoiceSearch;

use crate::{Engine, EngineError, EngineResult};

/// The most invoices one page of a search shows.
pub const MAX_PAGE: usize = 100;

/// An invoice with what happened to it.
#[derive(Debug)]
pub struct InvoiceDetails {
    pub invoice: Invoice,
    pub deal: Option<Deal>,
    pub transactions: Vec<Transaction>,
    /// Oldest first.
    pub callbacks: Vec<Callback>,
    pub attempts: Vec<CallbackAttempt>,
}

impl Engine {
    /// A page of the merchant's invoices of one mode matching `search`,
    /// newest first, and whether another page follows.
    pub async fn search_invoices(
        &self,
        merchant_id: String,
        test_mode: bool,
        search: InvoiceSearch,
        offset: usize,
        limit: usize,
    ) -> EngineResult<(Vec<Invoice>, bool)> {
        let limit = limit.clamp(1, MAX_PAGE);
        let mut found = self
            .read(move |tx| {
                Ok(tx.search_invoices(&merchant_id, test_mode, &search, offset, limit + 1)?)
            })
            .await?;
        let more = found.len() > limit;
        found.truncate(limit);
        Ok((found, more))
    }

    /// One invoice of the merchant's mode with its deal, postings and
    /// callbacks; another merchant's or mode's is not found.
    pub async fn invoice_details(
        &self,
        merchant_id: String,
        test_mode: bool,
        id: String,
    ) -> EngineResult<InvoiceDetails> {
        self.read(move |tx| {
            let invoice = tx
                .invoice(&id)?
                .filter(|i| i.merchant_id == merchant_id && i.test_mode == test_mode)
                .ok_or(EngineError::NotFound)?;
            let deal = match &invoice.deal_id {
                Some(d) => tx.deal(d)?,
                None => None,
            };
            Ok(InvoiceDetails {
                deal,
                transactions: tx.transactions_of(&invoice.id)?,
                callbacks: tx.callbacks_for_invoice(&invoice.id)?,
                attempts: tx.callback_attempts(&invoice.id)?,
                invoice,
            })
        })
        .await
    }

    /// A page of the merchant's payouts of one mode, newest first (of one
    /// status, if given), and whether another page follows.
    pub async fn merchant_payouts(
        &self,
        merchant_id: String,
        test_mode: bool,
        status: Option<String>,
        offset: usize,
        limit: usize,
    ) -> EngineResult<(Vec<Payout>, bool)> {
        let limit = limit.clamp(1, MAX_PAGE);
        let mut found = self
            .read(move |tx| {
                Ok(tx.payouts_of_merchant(
                    &merchant_id,
                    test_mode,
                    status.as_deref(),
                    offset,
                    limit + 1,
                )?)
            })
            .await?;
        let more = found.len() > limit;
        found.truncate(limit);
        Ok((found, more))
    }
}
