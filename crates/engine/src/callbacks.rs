//! Callbacks: owed in the transaction of the change they announce, delivered
//! by a worker that retries on a growing schedule and records every attempt.
//! Only HTTP 200 counts as delivered.

use std::net::IpAddr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use kassa_domain::ids::{new_id, prefix};
use kassa_domain::{
    Callback, CallbackAttempt, CallbackFace, CallbackState, Invoice, Merchant, Source,
};
use kassa_store::Tx;
use sha2::Sha256;

use crate::egress::is_blocked;
use crate::{Engine, EngineError, EngineResult};

/// Bytes of a receiver's answer that are read (and ignored).
const RESPONSE_MAX_BYTES: usize = 64 * 1024;

/// A callback as it goes on the wire.
pub struct Rendered {
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

/// The merchant's secrets a face may sign a callback with, unsealed.
pub struct CallbackSecrets {
    /// The per-mode callback secret (`whsec_...`).
    pub callback: String,
    /// The H2H secret of the callback's mode, for H2H payout callbacks.
    pub h2h: Option<String>,
}

/// Renders and signs a callback's body in its face's dialect.
pub trait CallbackRenderer: Send + Sync + 'static {
    fn render(
        &self,
        callback: &Callback,
        attempts: &[CallbackAttempt],
        secrets: &CallbackSecrets,
    ) -> Rendered;
}

/// Owes a callback for the invoice's current status, when it has somewhere
/// to go.
pub(crate) fn owe(tx: &mut dyn Tx, invoice: &Invoice, now_secs: i64) -> EngineResult<()> {
    let Some(url) = &invoice.callback_url else {
        return Ok(());
    };
    // The fingerprint stays with the invoice: a callback has no use for it.
    let shown = Invoice {
        fingerprint: String::new(),
        ..invoice.clone()
    };
    // Each face renders its own resource: the Checkout API's invoice, or the
    // Merchant API's InvoiceDTO, which shows the deal too.
    let (face, snapshot) = match invoice.source {
        Source::MerchantApi => {
            let deal = match &invoice.deal_id {
                Some(id) => tx.deal(id)?,
                None => None,
            };
            // The InvoiceDTO names the merchant's store.
            let store = tx
                .merchant(&invoice.merchant_id)?
                .map(|m| serde_json::json!({ "id": m.site_id, "name": m.name }));
            (
                CallbackFace::MerchantApi,
                serde_json::json!({ "invoice": shown, "deal": deal, "store": store }),
            )
        }
        _ => (
            CallbackFace::Checkout,
            serde_json::to_value(&shown).expect("an invoice serializes"),
        ),
    };
    let callback = Callback {
        id: new_id(prefix::CALLBACK),
        invoice_id: invoice.id.clone(),
        merchant_id: invoice.merchant_id.clone(),
        test_mode: invoice.test_mode,
        face,
        url: url.clone(),
        transaction_status: invoice.status.as_str().to_string(),
        snapshot,
        state: CallbackState::Pending,
        attempts: 0,
        created_at_secs: now_secs,
        next_attempt_at_secs: now_secs,
        lease_until_secs: 0,
    };
    tx.insert_callback(&callback)?;
    Ok(())
}

/// The Standard Webhooks signature: `v1,` and base64 HMAC-SHA256 of
/// `id.timestamp.body`.
pub fn standard_webhook_signature(
    key: &[u8],
    id: &str,
    timestamp_secs: i64,
    body: &[u8],
) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// What became of a callback handed to [`Engine::deliver`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// The merchant is not sent such callbacks: done, with no attempt.
    NotSent,
    Delivered,
    /// The attempt failed; `for_good` when it was the last allowed.
    Failed {
        for_good: bool,
    },
}

impl Delivery {
    /// Whether the callback left `pending`: the next of its invoice may go.
    pub(crate) fn ended(self) -> bool {
        !matches!(self, Delivery::Failed { for_good: false })
    }
}

impl Engine {
    /// Delay before a merchant's attempt after `attempts` failed ones: on
    /// its own schedule when it has one, else on the operator's. A schedule
    /// stored before the operator narrowed the bounds is held within them.
    fn retry_delay_secs(&self, merchant: &Merchant, attempts: u32) -> i64 {
        let config = &self.config;
        let (schedule, own) = match &merchant.callback_retry_secs {
            Some(own) if !own.is_empty() => (own.as_slice(), true),
            _ => (config.callback_retry_secs.as_slice(), false),
        };
        let i = (attempts as usize)
            .saturating_sub(1)
            .min(schedule.len() - 1);
        if own {
            schedule[i].clamp(
                config.callback_retry_min_secs,
                config.callback_retry_max_secs,
            )
        } else {
            schedule[i]
        }
    }

    /// Attempts a merchant's callbacks are allowed: its own, never more than
    /// the operator's.
    fn max_attempts(&self, merchant: &Merchant) -> u32 {
        let ceiling = self.config.callback_max_attempts;
        merchant
            .callback_max_attempts
            .map_or(ceiling, |n| n.clamp(1, ceiling))
    }

    /// Every delivery attempt of an invoice's callbacks, oldest first.
    pub async fn callback_attempts(
        &self,
        invoice_id: String,
    ) -> EngineResult<Vec<CallbackAttempt>> {
        self.read(move |tx| Ok(tx.callback_attempts(&invoice_id)?))
            .await
    }

    pub async fn callbacks(&self, invoice_id: String) -> EngineResult<Vec<Callback>> {
        self.read(move |tx| Ok(tx.callbacks_for_invoice(&invoice_id)?))
            .await
    }

    /// Owes a new callback announcing the invoice's current status, whatever
    /// became of the earlier ones. `merchant_id` scopes the lookup (None: the
    /// operator's resend).
    pub async fn resend_callback(
        &self,
        merchant_id: Option<String>,
        invoice_id: String,
    ) -> EngineResult<Callback> {
        let now = self.now_secs();
        let callback = self
            .write(move |tx| {
                let invoice = tx
                    .invoice(&invoice_id)?
                    .filter(|i| merchant_id.as_ref().is_none_or(|m| *m == i.merchant_id))
                    .ok_or(EngineError::NotFound)?;
                if invoice.callback_url.is_none() {
                    return Err(EngineError::invalid(
                        "callback_url",
                        "The invoice has no callback URL.",
                    ));
                }
                owe(tx, &invoice, now)?;
                let all = tx.callbacks_for_invoice(&invoice.id)?;
                Ok(all.into_iter().last().expect("the callback just owed"))
            })
            .await?;
        self.wake_workers();
        Ok(callback)
    }

    /// Makes one attempt and records it. `slots`, the request's places in
    /// the pipeline, are let go once the receiver has answered, before the
    /// attempt is recorded: they bound requests in flight, and recording
    /// waits on the store's commit.
    pub(crate) async fn deliver(
        &self,
        mut callback: Callback,
        slots: crate::delivery::InFlight,
    ) -> EngineResult<Delivery> {
        let merchant_id = callback.merchant_id.clone();
        let invoice_id = callback.invoice_id.clone();
        let (merchant, attempts): (Merchant, Vec<CallbackAttempt>) = self
            .read(move |tx| {
                Ok((
                    tx.merchant(&merchant_id)?.ok_or(EngineError::NotFound)?,
                    tx.callback_attempts(&invoice_id)?,
                ))
            })
            .await?;
        // Decided when it goes out, so a change of the setting applies to
        // what is still owed.
        if !callback.is_sent_for(merchant.callback_statuses) {
            callback.state = CallbackState::Done;
            callback.lease_until_secs = 0;
            self.write(move |tx| Ok(tx.update_callback(&callback)?))
                .await?;
            return Ok(Delivery::NotSent);
        }
        let at_secs = self.now_secs();
        let outcome = match self.callback_secret(&merchant, callback.test_mode) {
            None => Err("the callback secret cannot be unsealed with this master key".to_string()),
            Some(secret) => {
                let secrets = CallbackSecrets {
                    callback: secret.clone(),
                    h2h: self.h2h_secret(&merchant, callback.test_mode),
                };
                let rendered = self.renderer.render(&callback, &attempts, &secrets);
                self.post(&callback, at_secs, rendered, &secret).await
            }
        };
        let processed_secs = self.now_secs();
        slots.answered(outcome == Ok(200), processed_secs);
        callback.attempts += 1;
        let (status, response_code, error) = match outcome {
            Ok(200) => ("done", Some(200), None),
            Ok(code) => ("failed", Some(code), Some(format!("HTTP {code}"))),
            Err(e) => ("failed", None, Some(e)),
        };
        if status == "done" {
            callback.state = CallbackState::Done;
        } else if callback.attempts >= self.max_attempts(&merchant) {
            callback.state = CallbackState::Failed;
        } else {
            // The merchant was read for this attempt: a change of its
            // schedule applies from the next retry scheduled.
            callback.next_attempt_at_secs =
                processed_secs + self.retry_delay_secs(&merchant, callback.attempts);
        }
        callback.lease_until_secs = 0;
        tracing::info!(callback = %callback.id, invoice = %callback.invoice_id, attempt = callback.attempts, status, ?response_code, ?error, "callback attempt");
        let attempt = CallbackAttempt {
            callback_id: callback.id.clone(),
            invoice_id: callback.invoice_id.clone(),
            at_secs,
            processed_secs,
            status: status.into(),
            response_code,
            transaction_status: callback.transaction_status.clone(),
            error,
        };
        let delivery = match callback.state {
            CallbackState::Done => Delivery::Delivered,
            state => Delivery::Failed {
                for_good: state == CallbackState::Failed,
            },
        };
        self.write(move |tx| {
            tx.insert_callback_attempt(&attempt)?;
            tx.update_callback(&callback)?;
            Ok(())
        })
        .await?;
        Ok(delivery)
    }

    async fn post(
        &self,
        callback: &Callback,
        at_secs: i64,
        rendered: Rendered,
        secret: &str,
    ) -> Result<u16, String> {
        let url = url::Url::parse(&callback.url).map_err(|e| e.to_string())?;
        // A name is checked by the client's resolver as it connects; an
        // address written in the URL is never resolved, so it is checked here.
        let literal: Option<IpAddr> = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(ip.into()),
            Some(url::Host::Ipv6(ip)) => Some(ip.into()),
            _ => None,
        };
        if let Some(ip) = literal.filter(|ip| is_blocked(*ip)) {
            if !self.config.allow_private_callback_urls {
                return Err(format!("refused: {ip} is not a public address"));
            }
        }
        let key = crate::secrets::webhook_key(secret);
        let mut request = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &callback.id)
            .header("webhook-timestamp", at_secs.to_string())
            .header(
                "webhook-signature",
                standard_webhook_signature(&key, &callback.id, at_secs, &rendered.body),
            );
        for (name, value) in &rendered.headers {
            request = request.header(name, value);
        }
        let mut response = request
            .body(rendered.body)
            .send()
            .await
            // Without the URL: it may carry the receiver's credentials or
            // token, and the error is logged and kept with the attempt.
            .map_err(|e| crate::egress::error_chain(&e.without_url()))?;
        let code = response.status().as_u16();
        let mut read = 0;
        while let Ok(Some(chunk)) = response.chunk().await {
            read += chunk.len();
            if read > RESPONSE_MAX_BYTES {
                break;
            }
        }
        Ok(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_vector() {
        // The example of the Standard Webhooks specification.
        let key = crate::secrets::webhook_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let sig = standard_webhook_signature(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
