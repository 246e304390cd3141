//! Traders and their cabinets: who receives P2P pay-ins and where.

use kassa_domain::ids::new_id;
use kassa_domain::ledger::{book_key, Account};
use kassa_domain::{Actor, Cabinet, Currency, Deal, DisabledReason, Trader};

use super::{day_start, NewCabinet, LIST_MAX};
use crate::secrets::{random_token, sha256_hex};
use kassa_store::Tx;

use crate::{Engine, EngineError, EngineResult};

impl Engine {
    /// A live trader and its API token (shown once).
    pub async fn create_trader(&self, name: String) -> EngineResult<(Trader, String)> {
        self.create_trader_in(name, false).await
    }

    /// A trader of a mode: a test trader's cabinets are the sandbox, taking
    /// test-mode deals only.
    pub async fn create_trader_in(
        &self,
        name: String,
        test_mode: bool,
    ) -> EngineResult<(Trader, String)> {
        let name = name.trim().to_string();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(EngineError::invalid(
                "name",
                "This value should be 1 to 200 characters long.",
            ));
        }
        let token = format!("trt_{}", random_token());
        let trader = Trader {
            id: new_id("trd"),
            name,
            token_sha256: sha256_hex(&token),
            active: true,
            created_at_secs: self.now_secs(),
            test_mode,
        };
        let saved = trader.clone();
        self.write(move |tx| Ok(tx.insert_trader(&saved)?)).await?;
        Ok((trader, token))
    }

    /// Switches a trader on or off: an inactive trader's token is refused and
    /// its cabinets take no new deals.
    pub async fn set_trader_active(&self, trader_id: String, active: bool) -> EngineResult<Trader> {
        self.write(move |tx| {
            let mut trader = tx.trader(&trader_id)?.ok_or(EngineError::NotFound)?;
            trader.active = active;
            tx.update_trader(&trader)?;
            Ok(trader)
        })
        .await
        .inspect(|_| self.cabinets_changed())
    }

    pub async fn traders(&self) -> EngineResult<Vec<Trader>> {
        self.read(|tx| Ok(tx.traders()?)).await
    }

    pub async fn authenticate_trader(&self, token: String) -> EngineResult<Trader> {
        if token.is_empty() || token.len() > 128 {
            return Err(EngineError::Unauthorized);
        }
        let hash = sha256_hex(&token);
        self.read(move |tx| {
            tx.trader_by_token(&hash)?
                .filter(|t| t.active)
                .ok_or(EngineError::Unauthorized)
        })
        .await
    }

    pub async fn add_cabinet(&self, new: NewCabinet) -> EngineResult<Cabinet> {
        let mut errors = std::collections::BTreeMap::new();
        let method_ok = !new.method.is_empty()
            && new.method.len() <= 32
            && new
                .method
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !method_ok {
            errors.insert("method".into(), "Use 1 to 32 of a-z, 0-9 and _.".into());
        }
        for (field, text) in [
            ("requisite", &new.requisite),
            ("holder", &new.holder),
            ("bank_name", &new.bank_name),
        ] {
            if text.trim().is_empty() || text.len() > 128 {
                errors.insert(
                    field.into(),
                    "This value should be 1 to 128 characters long.".into(),
                );
            }
        }
        if new.min_amount_minor < 1
            || (new.max_amount_minor != 0 && new.max_amount_minor < new.min_amount_minor)
        {
            errors.insert(
                "min_amount".into(),
                "Limits must satisfy 0 < min <= max (max 0: none).".into(),
            );
        }
        if new.daily_limit_minor < 0 {
            errors.insert(
                "daily_limit".into(),
                "This value should not be negative.".into(),
            );
        }
        if !errors.is_empty() {
            return Err(EngineError::Invalid(errors));
        }
        let cabinet = Cabinet {
            id: new_id("cab"),
            trader_id: new.trader_id,
            method: new.method,
            currency: new.currency,
            bank_name: new.bank_name.trim().to_string(),
            // A card as its digits (a phone as + and digits), so that a card
            // is masked wherever it is shown, however it was typed.
            requisite: kassa_domain::p2p::normalize_requisite(&new.requisite),
            holder: new.holder.trim().to_string(),
            min_amount_minor: new.min_amount_minor,
            max_amount_minor: new.max_amount_minor,
            daily_limit_minor: new.daily_limit_minor,
            max_open_deals: new.max_open_deals,
            active: new.active,
            created_at_secs: self.now_secs(),
            test_mode: false,
            disabled_reason: (!new.active).then_some(DisabledReason::Trader),
            enabled_at_secs: None,
        };
        self.write(move |tx| {
            let mut cabinet = cabinet;
            cabinet.test_mode = tx
                .trader(&cabinet.trader_id)?
                .ok_or_else(|| EngineError::invalid("trader", "No such trader."))?
                .test_mode;
            tx.insert_cabinet(&cabinet)?;
            Ok(cabinet)
        })
        .await
        .inspect(|_| self.cabinets_changed())
    }

    pub async fn trader_cabinets(&self, trader_id: String) -> EngineResult<Vec<Cabinet>> {
        self.read(move |tx| Ok(tx.cabinets_of_trader(&trader_id)?))
            .await
    }

    /// Switches a cabinet on or off, one within the actor's reach. Off, it
    /// records who switched it (also over an automatic switch-off); on, it
    /// clears the reason and its health is judged afresh from now. A trader
    /// cannot switch on, nor claim, a cabinet the operator switched off.
    pub async fn set_cabinet_active(
        &self,
        actor: impl Into<Actor>,
        cabinet_id: String,
        active: bool,
    ) -> EngineResult<Cabinet> {
        let actor = actor.into();
        let now = self.now_secs();
        self.write(move |tx| switch_cabinet(tx, &actor, &cabinet_id, active, now))
            .await
            .inspect(|_| self.cabinets_changed())
    }

    /// What a cabinet's switch makes stale.
    pub(crate) fn cabinets_changed(&self) {
        self.cabinet_cache.clear();
        self.held_hints.clear_full();
    }

    pub async fn trader_deals(
        &self,
        trader_id: String,
        open_only: bool,
    ) -> EngineResult<Vec<Deal>> {
        self.read(move |tx| Ok(tx.deals_of_trader(&trader_id, open_only, LIST_MAX)?))
            .await
    }

    pub async fn trader(&self, id: String) -> EngineResult<Trader> {
        self.read(move |tx| tx.trader(&id)?.ok_or(EngineError::NotFound))
            .await
    }

    /// A trader's cabinets, each with today's (UTC) turnover as its daily
    /// limit counts it: the deals made there today that were not canceled.
    pub async fn cabinets_with_turnover(
        &self,
        trader_id: String,
    ) -> EngineResult<Vec<(Cabinet, i64)>> {
        let since = day_start(self.now_secs());
        self.read(move |tx| {
            let cabinets = tx.cabinets_of_trader(&trader_id)?;
            let mut out = Vec::with_capacity(cabinets.len());
            for c in cabinets {
                let turnover = tx.turnover_since(&c.id, since)?;
                out.push((c, turnover));
            }
            Ok(out)
        })
        .await
    }

    /// What the ledger holds between the platform and a trader, per
    /// currency, in the trader's mode: negative while the trader holds
    /// pay-ins its cabinets received, positive when it is owed for payouts
    /// it made.
    pub async fn trader_settlement(&self, trader: &Trader) -> EngineResult<Vec<(Currency, i64)>> {
        let key = book_key(
            trader.test_mode,
            &Account::TraderSettlement(trader.id.clone()),
        );
        self.read(move |tx| {
            Ok(tx
                .balances(&key)?
                .into_iter()
                .filter(|(account, _, _)| *account == key)
                .filter_map(|(_, c, sum)| Currency::from_code(&c).map(|c| (c, sum)))
                .collect())
        })
        .await
    }

    pub async fn deal(&self, id: String) -> EngineResult<Deal> {
        self.read(move |tx| tx.deal(&id)?.ok_or(EngineError::NotFound))
            .await
    }
}

/// Switches a cabinet on or off in the write `tx`, decided on its row as it
/// is now (see [`Engine::set_cabinet_active`]).
pub(crate) fn switch_cabinet(
    tx: &mut dyn Tx,
    actor: &Actor,
    cabinet_id: &str,
    active: bool,
    now: i64,
) -> EngineResult<Cabinet> {
    let mut cabinet = tx
        .cabinet_to_switch(cabinet_id)?
        .filter(|c| actor.reaches(&c.trader_id))
        .ok_or(EngineError::NotFound)?;
    if active {
        if cabinet.active {
            return Ok(cabinet);
        }
        if *actor != Actor::Operator && cabinet.disabled_reason == Some(DisabledReason::Operator) {
            return Err(EngineError::Conflict(
                "the operator switched this cabinet off; only the operator can switch it on".into(),
            ));
        }
        cabinet.disabled_reason = None;
        cabinet.enabled_at_secs = Some(now);
    } else {
        let reason = match actor {
            Actor::Operator => DisabledReason::Operator,
            Actor::Trader(_) => DisabledReason::Trader,
        };
        // A person's switch-off takes over an automatic one; the
        // operator's is never turned into the trader's.
        let stands = [Some(reason), Some(DisabledReason::Operator)];
        if !cabinet.active && stands.contains(&cabinet.disabled_reason) {
            return Ok(cabinet);
        }
        cabinet.disabled_reason = Some(reason);
    }
    cabinet.active = active;
    tx.update_cabinet(&cabinet)?;
    Ok(cabinet)
}
