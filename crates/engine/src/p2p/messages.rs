//! Bank SMS and pushes, forwarded by the app on a trader's phone: the
//! devices that may post them, the pattern table that reads them, and the
//! credit that settles a deal exactly as a structured bank notification
//! does (it becomes one, on the cabinet its digits name).

use std::sync::{Arc, Mutex};

use hmac::Mac;
use kassa_domain::bank_message::{
    check_pattern, mask_card_numbers, requisite_ends_with, BankMessage, MessageKind,
    MessagePattern, Patterns, Reading, TraderDevice,
};
use kassa_domain::ids::new_id;
use kassa_domain::{Actor, BankNotification, Cabinet, Trader};
use kassa_store::{StoreError, Tx};

use super::deals::settle_notification;
use super::{LIST_MAX, TEXT_MAX};
use crate::secrets::random_token;
use crate::{Engine, EngineError, EngineResult};

/// Bounds on what a device may send.
pub const SENDER_MAX: usize = 128;
const DEVICE_NAME_MAX: usize = 100;
/// Operator patterns kept at most: each runs on every message.
pub const PATTERNS_MAX: usize = 200;

/// A bank message as a device posts it.
#[derive(Clone, Debug)]
pub struct NewMessage {
    /// The SMS sender (`900`) or the app that pushed it (`Tinkoff`).
    pub sender: String,
    pub text: String,
    /// When the phone received it.
    pub received_at_secs: i64,
}

/// What a posted message did.
pub struct MessageOutcome {
    pub message: BankMessage,
    /// False for a repeat of a message already posted by this device.
    pub new: bool,
}

/// The operator's patterns as last read, and the table compiled from them.
#[derive(Default)]
pub(crate) struct PatternCache(Mutex<Option<(Vec<MessagePattern>, Arc<Patterns>)>>);

impl Engine {
    /// The keyed hash a device token is stored and looked up as.
    fn device_token_hash(&self, token: &str) -> String {
        let mut mac = self.fingerprint_key.mac();
        mac.update(b"kassa device token v1\0");
        mac.update(token.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A new device of a trader and its token (shown once).
    pub async fn create_device(
        &self,
        actor: impl Into<Actor>,
        trader_id: String,
        name: String,
        cabinet_ids: Vec<String>,
    ) -> EngineResult<(TraderDevice, String)> {
        let actor = actor.into();
        let cabinet_ids = super::health::check_cabinet_ids(cabinet_ids)?;
        let name = name.trim().to_string();
        if name.is_empty() || name.chars().count() > DEVICE_NAME_MAX || name.contains('\0') {
            return Err(EngineError::invalid(
                "name",
                "This value should be 1 to 100 characters long.",
            ));
        }
        let token = format!("kdt_{}", random_token());
        let device = TraderDevice {
            id: new_id("dev"),
            trader_id,
            name,
            token_hash: self.device_token_hash(&token),
            created_at_secs: self.now_secs(),
            revoked_at_secs: None,
            last_seen_at_secs: None,
            cabinet_ids,
        };
        let saved = device.clone();
        self.write(move |tx| {
            tx.trader(&saved.trader_id)?
                .filter(|t| actor.reaches(&t.id))
                .ok_or_else(|| EngineError::invalid("trader", "No such trader."))?;
            super::health::check_cabinets_of(tx, &saved.trader_id, &saved.cabinet_ids)?;
            Ok(tx.insert_device(&saved)?)
        })
        .await?;
        Ok((device, token))
    }

    /// Revokes a device: its token is refused from then on. Revoking a
    /// revoked device answers it unchanged.
    pub async fn revoke_device(
        &self,
        actor: impl Into<Actor>,
        device_id: String,
    ) -> EngineResult<TraderDevice> {
        let actor = actor.into();
        let now = self.now_secs();
        self.write(move |tx| {
            let mut device = tx
                .device(&device_id)?
                .filter(|d| actor.reaches(&d.trader_id))
                .ok_or(EngineError::NotFound)?;
            if device.revoked_at_secs.is_none() {
                device.revoked_at_secs = Some(now);
                tx.update_device(&device)?;
            }
            Ok(device)
        })
        .await
    }

    pub async fn devices(&self, trader_id: String) -> EngineResult<Vec<TraderDevice>> {
        self.read(move |tx| Ok(tx.devices_of_trader(&trader_id)?))
            .await
    }

    /// The device a token belongs to and its trader; a revoked device, or an
    /// inactive trader's, is refused.
    pub async fn authenticate_device(&self, token: String) -> EngineResult<(TraderDevice, Trader)> {
        if token.is_empty() || token.len() > 128 {
            return Err(EngineError::Unauthorized);
        }
        let hash = self.device_token_hash(&token);
        self.read(move |tx| {
            let device = tx
                .device_by_token(&hash)?
                .filter(|d| d.revoked_at_secs.is_none())
                .ok_or(EngineError::Unauthorized)?;
            let trader = tx
                .trader(&device.trader_id)?
                .filter(|t| t.active)
                .ok_or(EngineError::Unauthorized)?;
            Ok((device, trader))
        })
        .await
    }

    /// The pattern table: the operator's patterns as stored now (another
    /// process may have changed them), compiled once per change.
    async fn patterns(&self) -> EngineResult<Arc<Patterns>> {
        let stored = self.read(|tx| Ok(tx.message_patterns()?)).await?;
        let mut cache = self.pattern_cache.0.lock().expect("not poisoned");
        if let Some((seen, compiled)) = cache.as_ref() {
            if *seen == stored {
                return Ok(compiled.clone());
            }
        }
        let compiled = Arc::new(Patterns::new(stored.clone()));
        *cache = Some((stored, compiled.clone()));
        Ok(compiled)
    }

    /// Reads a message without keeping it (the CLI's check of a pattern).
    pub async fn read_message(&self, sender: &str, text: &str) -> EngineResult<Reading> {
        Ok(self.patterns().await?.classify(sender, text))
    }

    /// A bank message from a trader's device. It is read against the pattern
    /// table and kept, whatever it says; a credit whose digits name one of
    /// the trader's cabinets becomes a bank notification on it, which
    /// completes the open deal of that amount as any notification does. The
    /// same message (sender, text, time) from the same device is kept once
    /// and answered as the first time.
    pub async fn post_bank_message(
        &self,
        device: &TraderDevice,
        new: NewMessage,
    ) -> EngineResult<MessageOutcome> {
        let mut errors = std::collections::BTreeMap::new();
        let sender_ok = !new.sender.trim().is_empty()
            && new.sender.chars().count() <= SENDER_MAX
            && !new.sender.contains('\0');
        if !sender_ok {
            errors.insert(
                "sender".to_string(),
                "This value should be 1 to 128 characters long.".to_string(),
            );
        }
        if new.text.trim().is_empty() || new.text.len() > TEXT_MAX || new.text.contains('\0') {
            errors.insert(
                "text".to_string(),
                "This value should be 1 to 1024 bytes long.".to_string(),
            );
        }
        if !errors.is_empty() {
            return Err(EngineError::Invalid(errors));
        }
        let reading = self.patterns().await?.classify(&new.sender, &new.text);
        let dedup_key = {
            let mut mac = self.fingerprint_key.mac();
            mac.update(b"kassa bank message v1\0");
            for part in [
                new.sender.as_bytes(),
                new.text.as_bytes(),
                new.received_at_secs.to_string().as_bytes(),
            ] {
                mac.update(&(part.len() as u64).to_be_bytes());
                mac.update(part);
            }
            hex::encode(mac.finalize().into_bytes())
        };
        let now = self.now_secs();
        let message = BankMessage {
            id: new_id("bmsg"),
            trader_id: device.trader_id.clone(),
            device_id: device.id.clone(),
            sender: new.sender.trim().to_string(),
            text: mask_card_numbers(&new.text),
            received_at_secs: new.received_at_secs,
            created_at_secs: now,
            dedup_key,
            reading,
            cabinet_id: None,
            notification_id: None,
            deal_id: None,
        };
        let (device_id, key) = (message.device_id.clone(), message.dedup_key.clone());
        let posted = self
            .write(move |tx| {
                if let Some(existing) =
                    tx.bank_message_by_key(&message.device_id, &message.dedup_key)?
                {
                    return Ok(MessageOutcome {
                        message: existing,
                        new: false,
                    });
                }
                // Revoked since its token was read: the message is refused.
                let device = tx
                    .device(&message.device_id)?
                    .filter(|d| d.revoked_at_secs.is_none())
                    .ok_or(EngineError::Unauthorized)?;
                // A message is a heartbeat too.
                super::health::note_seen(tx, device, now)?;
                let message = settle_message(tx, message, now)?;
                tx.insert_bank_message(&message)?;
                Ok(MessageOutcome { message, new: true })
            })
            .await;
        let outcome = match posted {
            // The same message posted at the same moment: the other one won
            // and this one's changes were undone; answer as a repeat.
            Err(EngineError::Store(StoreError::Duplicate(_))) => {
                let message = self
                    .read(move |tx| Ok(tx.bank_message_by_key(&device_id, &key)?))
                    .await?
                    .ok_or_else(|| {
                        EngineError::Store(StoreError::Backend("a lost bank message".into()))
                    })?;
                MessageOutcome {
                    message,
                    new: false,
                }
            }
            other => other?,
        };
        if outcome.new && outcome.message.deal_id.is_some() {
            self.wake_workers();
        }
        Ok(outcome)
    }

    /// The bank messages within the actor's reach, newest first.
    pub async fn bank_messages(
        &self,
        actor: impl Into<Actor>,
        kind: Option<MessageKind>,
    ) -> EngineResult<Vec<BankMessage>> {
        let actor = actor.into();
        self.read(move |tx| Ok(tx.bank_messages(actor.trader_id(), kind, LIST_MAX)?))
            .await
    }

    /// An operator pattern, checked (it compiles, has the groups its kind
    /// needs) before it is kept; it is tried before the built-in ones.
    pub async fn add_message_pattern(
        &self,
        kind: MessageKind,
        sender: Option<String>,
        regex: String,
    ) -> EngineResult<MessagePattern> {
        let pattern = MessagePattern {
            id: new_id("mpt"),
            kind,
            sender: sender.filter(|s| !s.is_empty()),
            regex,
            created_at_secs: self.now_secs(),
        };
        check_pattern(&pattern).map_err(|e| {
            let field = match e {
                kassa_domain::bank_message::PatternError::Sender(_) => "sender",
                kassa_domain::bank_message::PatternError::UnknownKind => "kind",
                _ => "regex",
            };
            EngineError::invalid(field, e.to_string())
        })?;
        let saved = pattern.clone();
        self.write(move |tx| {
            if tx.message_patterns()?.len() >= PATTERNS_MAX {
                return Err(EngineError::Conflict(format!(
                    "at most {PATTERNS_MAX} patterns; remove one first"
                )));
            }
            Ok(tx.insert_message_pattern(&saved)?)
        })
        .await?;
        Ok(pattern)
    }

    /// The operator's patterns, in the order they are tried.
    pub async fn message_patterns(&self) -> EngineResult<Vec<MessagePattern>> {
        self.read(|tx| Ok(tx.message_patterns()?)).await
    }

    pub async fn remove_message_pattern(&self, id: String) -> EngineResult<()> {
        self.write(move |tx| {
            if tx.delete_message_pattern(&id)? {
                Ok(())
            } else {
                Err(EngineError::NotFound)
            }
        })
        .await
    }
}

/// A credit to the trader's cabinet its digits name becomes a bank
/// notification there, settled as every notification is. Several cabinets
/// may end in the same digits: then the one with an open deal of the amount
/// is meant, if exactly one has; otherwise nothing is settled and the
/// message waits for review.
fn settle_message(
    tx: &mut dyn Tx,
    mut message: BankMessage,
    now_secs: i64,
) -> EngineResult<BankMessage> {
    let r = &message.reading;
    let (MessageKind::Credit, Some(amount_minor), Some(currency), Some(digits)) =
        (r.kind, r.amount_minor, r.currency, r.digits.as_deref())
    else {
        return Ok(message);
    };
    let named: Vec<Cabinet> = tx
        .cabinets_of_trader(&message.trader_id)?
        .into_iter()
        .filter(|c| c.currency == currency && requisite_ends_with(&c.requisite, digits))
        .collect();
    let cabinet = if named.len() <= 1 {
        named.into_iter().next()
    } else {
        let mut with_deal = Vec::new();
        for c in named {
            if tx.open_deal_at(&c.id, amount_minor)?.is_some() {
                with_deal.push(c);
            }
        }
        (with_deal.len() == 1).then(|| with_deal.remove(0))
    };
    let Some(cabinet) = cabinet else {
        return Ok(message);
    };
    let notification = BankNotification {
        id: new_id("bnt"),
        trader_id: message.trader_id.clone(),
        // Unique per trader, as notification ids are: one per message.
        external_id: format!("message:{}", message.id),
        cabinet_id: cabinet.id.clone(),
        amount_minor,
        text: Some(message.text.clone()),
        received_at_secs: Some(message.received_at_secs),
        created_at_secs: now_secs,
        deal_id: None,
        matched_by: None,
    };
    let notification = settle_notification(tx, &cabinet, notification, now_secs)?;
    message.cabinet_id = Some(cabinet.id);
    message.notification_id = Some(notification.id);
    message.deal_id = notification.deal_id;
    Ok(message)
}
