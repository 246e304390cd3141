//! What every store must do, written once and run on each backend.
#![allow(dead_code)]

use std::sync::Arc;

use kassa_domain::catalog::default_catalog;
use kassa_domain::{
    Callback, CallbackFace, CallbackState, Currency, Invoice, InvoiceStatus, PaymentFlow,
    Resolution, Source,
};
use kassa_store::{read, write, Cursor, Store, StoreError};

pub fn invoice(id: &str, reference_id: &str) -> Invoice {
    Invoice {
        id: id.into(),
        merchant_id: "mer_1".into(),
        test_mode: true,
        reference_id: reference_id.into(),
        service: "test_usd_test".into(),
        service_method: "test".into(),
        service_flow: "test".into(),
        currency: Currency::from_code("USD").unwrap(),
        amount_minor: 100,
        fee_minor: 0,
        deposit_minor: 100,
        processed_amount_minor: None,
        processed_fee_minor: None,
        processed_deposit_minor: None,
        refunded_amount_minor: None,
        status: InvoiceStatus::ProcessPending,
        resolution: Resolution::Ok,
        payment_flow: PaymentFlow::Charge,
        description: None,
        metadata: None,
        service_fields: None,
        customer: None,
        return_url: None,
        return_urls: None,
        callback_url: None,
        gateway_options: None,
        source: Source::PrivateApi,
        created_at_secs: 1,
        updated_at_secs: 1,
        processed_at_secs: None,
        expires_at_secs: 1000,
        test_outcome: None,
        fingerprint: "f".into(),
        merchant_api: None,
        deal_id: None,
    }
}

pub async fn add_merchant(store: &dyn Store) {
    // Invoices reference merchants: insert a bare one through SQL-free means.
    let merchant: kassa_domain::Merchant = serde_json::from_value(serde_json::json!({
        "id": "mer_1", "name": "M", "site_id": 1001, "site_login": "m",
        "forbid_public_api": false, "account_currency": "USD", "callback_url": null,
        "created_at_secs": 1,
        "test": {"public_key": "pk_test_1", "private_key_id": "key_test_1", "private_secret_sha256": "x", "callback_secret_sealed": "y"},
        "live": {"public_key": "pk_live_1", "private_key_id": "key_live_1", "private_secret_sha256": "x", "callback_secret_sealed": "y"}
    }))
    .unwrap();
    write(store, move |tx| tx.insert_merchant(&merchant))
        .await
        .unwrap();
}

/// 200 writes at once; every tenth is refused after writing, and only its
/// own changes are undone.
pub async fn concurrent_writes_commit_and_a_failing_job_rolls_back_alone(store: Arc<dyn Store>) {
    add_merchant(&*store).await;
    let mut tasks = Vec::new();
    for n in 0..200 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            write(&*store, move |tx| -> Result<(), StoreError> {
                tx.insert_invoice(&invoice(&format!("cpi_{n}"), &format!("ref-{n}")))?;
                if n % 10 == 0 {
                    // Written, then refused: the store must undo it.
                    return Err(StoreError::Backend("refused".into()));
                }
                Ok(())
            })
            .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    assert_eq!(ok, 180);
    let count = read(&*store, |tx| tx.count_invoices("mer_1"))
        .await
        .unwrap();
    assert_eq!(count, 180);
    let gone = read(&*store, |tx| tx.invoice("cpi_10")).await.unwrap();
    assert!(gone.is_none(), "a failed job's insert was rolled back");
}

pub async fn reference_ids_are_unique_per_merchant_and_mode(store: Arc<dyn Store>) {
    add_merchant(&*store).await;
    write(&*store, |tx| tx.insert_invoice(&invoice("cpi_a", "same")))
        .await
        .unwrap();
    let dup = write(&*store, |tx| tx.insert_invoice(&invoice("cpi_b", "same"))).await;
    assert!(matches!(dup, Err(StoreError::Duplicate(_))), "{dup:?}");
    // A Duplicate leaves the transaction usable: the engine reads the
    // earlier invoice right after it.
    let found = write(&*store, |tx| {
        let dup = tx.insert_invoice(&invoice("cpi_b", "same"));
        assert!(matches!(dup, Err(StoreError::Duplicate(_))), "{dup:?}");
        tx.invoice_by_reference("mer_1", true, "same")
    })
    .await
    .unwrap();
    assert_eq!(found.unwrap().id, "cpi_a");
    let mut live = invoice("cpi_c", "same");
    live.test_mode = false;
    write(&*store, move |tx| tx.insert_invoice(&live))
        .await
        .unwrap();
}

pub async fn cursors_walk_both_ways(store: Arc<dyn Store>) {
    add_merchant(&*store).await;
    for n in 0..5 {
        write(&*store, move |tx| {
            tx.insert_invoice(&invoice(&format!("cpi_{n}"), &format!("r{n}")))
        })
        .await
        .unwrap();
    }
    let page = |cursor: Cursor| {
        let store = store.clone();
        async move {
            read(&*store, move |tx| tx.invoices("mer_1", true, &cursor, 2))
                .await
                .unwrap()
        }
    };
    let ids =
        |p: &kassa_store::Page<Invoice>| p.items.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
    let first = page(Cursor::First).await;
    assert_eq!(ids(&first), ["cpi_4", "cpi_3"]);
    assert!(!first.has_newer && first.has_older);
    let second = page(Cursor::After("cpi_3".into())).await;
    assert_eq!(ids(&second), ["cpi_2", "cpi_1"]);
    assert!(second.has_newer && second.has_older);
    let last = page(Cursor::After("cpi_1".into())).await;
    assert_eq!(ids(&last), ["cpi_0"]);
    assert!(last.has_newer && !last.has_older);
    let back = page(Cursor::Before("cpi_1".into())).await;
    assert_eq!(ids(&back), ["cpi_3", "cpi_2"]);
    assert!(back.has_newer && back.has_older);
}

/// What was acknowledged is there after the store is opened again; services
/// come back in the order they were added.
pub async fn what_was_acknowledged_survives_reopening(open: impl Fn() -> Arc<dyn Store>) {
    {
        let store = open();
        add_merchant(&*store).await;
        let catalog = default_catalog();
        write(&*store, move |tx| {
            for s in &catalog.services {
                tx.put_service(s)?;
            }
            tx.insert_invoice(&invoice("cpi_kept", "kept"))
        })
        .await
        .unwrap();
    }
    let store = open();
    let kept = read(&*store, |tx| tx.invoice("cpi_kept")).await.unwrap();
    assert_eq!(kept.unwrap().reference_id, "kept");
    let services = read(&*store, |tx| tx.services()).await.unwrap();
    let codes: Vec<_> = services.iter().map(|s| s.code.clone()).collect();
    let expected: Vec<_> = default_catalog()
        .services
        .iter()
        .map(|s| s.code.clone())
        .collect();
    assert_eq!(codes, expected, "services come back in insertion order");
}

fn callback(id: &str, invoice_id: &str) -> Callback {
    Callback {
        id: id.into(),
        invoice_id: invoice_id.into(),
        merchant_id: "mer_1".into(),
        test_mode: true,
        face: CallbackFace::Checkout,
        url: "https://shop.example/cb".into(),
        transaction_status: "process_pending".into(),
        snapshot: serde_json::Value::Null,
        state: CallbackState::Pending,
        attempts: 0,
        created_at_secs: 1,
        next_attempt_at_secs: 1,
        lease_until_secs: 0,
    }
}

/// A claim takes an invoice's callbacks one at a time, in the order they were
/// owed: one behind an earlier pending callback (waiting for a retry, or
/// leased) is not due; one failed for good holds nothing back.
pub async fn an_invoices_callbacks_are_claimed_in_order(store: Arc<dyn Store>) {
    write(&*store, |tx| -> Result<(), StoreError> {
        for (id, invoice) in [("cb_1", "cpi_a"), ("cb_2", "cpi_a"), ("cb_3", "cpi_b")] {
            tx.insert_callback(&callback(id, invoice))?;
        }
        Ok(())
    })
    .await
    .unwrap();
    let due = |now: i64| {
        let store = store.clone();
        async move {
            let due = write(&*store, move |tx| tx.due_callbacks(now, 10))
                .await
                .unwrap();
            let mut ids: Vec<_> = due.into_iter().map(|c| c.id).collect();
            ids.sort();
            ids
        }
    };
    let set = |id: &'static str, change: fn(&mut Callback)| {
        let store = store.clone();
        async move {
            write(&*store, move |tx| {
                let mut cb = tx.callback(id)?.expect("callback");
                change(&mut cb);
                tx.update_callback(&cb)
            })
            .await
            .unwrap()
        }
    };
    assert_eq!(due(5).await, ["cb_1", "cb_3"]);
    // The first waits for its retry: the second waits behind it.
    set("cb_1", |cb| cb.next_attempt_at_secs = 100).await;
    assert_eq!(due(5).await, ["cb_3"]);
    let counts = read(&*store, |tx| tx.callback_counts(5)).await.unwrap();
    assert_eq!((counts.owed, counts.due), (3, 1), "{counts:?}");
    assert_eq!(due(100).await, ["cb_1", "cb_3"]);
    // Leased by a node: the same.
    set("cb_1", |cb| cb.lease_until_secs = 200).await;
    assert_eq!(due(150).await, ["cb_3"]);
    // Failed for good: the next goes.
    set("cb_1", |cb| cb.state = CallbackState::Failed).await;
    assert_eq!(due(150).await, ["cb_2", "cb_3"]);
}
