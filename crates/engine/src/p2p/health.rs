//! Card health: devices heartbeat (or post messages), say which cabinets
//! they forward for, and a sweep switches off the cabinets whose devices
//! went silent or whose last deals all expired unpaid.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use kassa_domain::bank_message::TraderDevice;
use kassa_domain::cabinet_health::{judge, judged_since, HealthRules};
use kassa_domain::{Actor, Cabinet, DisabledReason};
use kassa_store::Tx;

use crate::sweep::each_apart;
use crate::{Engine, EngineError, EngineResult};

/// Cabinets a device may be tied to at most.
pub const DEVICE_CABINETS_MAX: usize = 100;
/// How often a node judges the cabinets (engine clock).
const HEALTH_EVERY_SECS: i64 = 5;

/// Notes that a device was heard from at `now_secs`.
pub(super) fn note_seen(
    tx: &mut dyn Tx,
    mut device: TraderDevice,
    now_secs: i64,
) -> EngineResult<TraderDevice> {
    if device.last_seen_at_secs.is_none_or(|t| t < now_secs) {
        device.last_seen_at_secs = Some(now_secs);
        tx.update_device(&device)?;
    }
    Ok(device)
}

/// Why the cabinet is to be switched off, judged on what the store holds now.
fn verdict(
    tx: &mut dyn Tx,
    cabinet: &Cabinet,
    devices: &[TraderDevice],
    rules: HealthRules,
    now_secs: i64,
) -> EngineResult<Option<DisabledReason>> {
    let recent = if rules.expired_deals_max > 0 {
        tx.recent_deals_of_cabinet(
            &cabinet.id,
            judged_since(cabinet),
            rules.expired_deals_max as usize,
        )?
    } else {
        Vec::new()
    };
    Ok(judge(cabinet, devices, &recent, rules, now_secs))
}

impl Engine {
    fn health_rules(&self) -> HealthRules {
        HealthRules {
            silent_secs: self.config.cabinet_silent_secs,
            expired_deals_max: self.config.cabinet_expired_deals_max,
        }
    }

    /// A device's heartbeat: it is alive now. Its cabinets stay as they are
    /// (one switched off is switched on by a person only).
    pub async fn device_heartbeat(&self, device_id: String) -> EngineResult<TraderDevice> {
        let now = self.now_secs();
        self.write(move |tx| {
            let device = tx
                .device(&device_id)?
                .filter(|d| d.revoked_at_secs.is_none())
                .ok_or(EngineError::Unauthorized)?;
            note_seen(tx, device, now)
        })
        .await
    }

    /// Ties a device to the cabinets it forwards for (all its trader's when
    /// empty); each must be its trader's.
    pub async fn set_device_cabinets(
        &self,
        actor: impl Into<Actor>,
        device_id: String,
        cabinet_ids: Vec<String>,
    ) -> EngineResult<TraderDevice> {
        let actor = actor.into();
        let cabinet_ids = check_cabinet_ids(cabinet_ids)?;
        self.write(move |tx| {
            let mut device = tx
                .device(&device_id)?
                .filter(|d| actor.reaches(&d.trader_id))
                .ok_or(EngineError::NotFound)?;
            check_cabinets_of(tx, &device.trader_id, &cabinet_ids)?;
            if device.cabinet_ids != cabinet_ids {
                device.cabinet_ids = cabinet_ids;
                tx.update_device(&device)?;
            }
            Ok(device)
        })
        .await
    }

    /// Switches off every active cabinet found unhealthy, each decided on its
    /// current (locked) row in a savepoint of its own. Returns how many.
    pub async fn switch_off_unhealthy_cabinets(&self) -> EngineResult<usize> {
        let rules = self.health_rules();
        if rules.is_off() {
            return Ok(0);
        }
        let now = self.now_secs();
        // Judged on a read first, so a healthy fleet costs no write.
        let suspects = self
            .read(move |tx| {
                let mut devices: HashMap<String, Vec<TraderDevice>> = HashMap::new();
                let mut suspects = Vec::new();
                for cabinet in tx.all_active_cabinets()? {
                    if !devices.contains_key(&cabinet.trader_id) {
                        let of = tx.devices_of_trader(&cabinet.trader_id)?;
                        devices.insert(cabinet.trader_id.clone(), of);
                    }
                    let of = &devices[&cabinet.trader_id];
                    if verdict(tx, &cabinet, of, rules, now)?.is_some() {
                        suspects.push(cabinet.id);
                    }
                }
                Ok(suspects)
            })
            .await?;
        if suspects.is_empty() {
            return Ok(0);
        }
        let changed = self
            .write(move |tx| {
                each_apart(tx, "cabinet health", suspects, String::clone, |tx, id| {
                    let Some(mut cabinet) = tx.cabinet_to_switch(&id)? else {
                        return Ok(());
                    };
                    let devices = tx.devices_of_trader(&cabinet.trader_id)?;
                    let Some(reason) = verdict(tx, &cabinet, &devices, rules, now)? else {
                        return Ok(());
                    };
                    cabinet.active = false;
                    cabinet.disabled_reason = Some(reason);
                    tx.update_cabinet(&cabinet)?;
                    tracing::warn!(
                        cabinet = %cabinet.id,
                        trader = %cabinet.trader_id,
                        reason = reason.as_str(),
                        "cabinet switched off"
                    );
                    Ok(())
                })
            })
            .await?;
        if changed > 0 {
            self.cabinet_cache.clear();
            self.held_hints.clear_full();
        }
        Ok(changed)
    }

    /// [`Self::switch_off_unhealthy_cabinets`] as the sweeps run it: every
    /// few seconds, and at once when deals have just expired.
    pub(crate) async fn health_pass(&self, deals_ended: bool) -> EngineResult<usize> {
        let now = self.now_secs();
        let last = self.health_checked_at.load(Ordering::Relaxed);
        if !deals_ended && now < last.saturating_add(HEALTH_EVERY_SECS) {
            return Ok(0);
        }
        self.health_checked_at.store(now, Ordering::Relaxed);
        self.switch_off_unhealthy_cabinets().await
    }
}

/// Cabinet ids as sent: deduplicated, in order, bounded.
pub(super) fn check_cabinet_ids(ids: Vec<String>) -> EngineResult<Vec<String>> {
    let mut seen = Vec::with_capacity(ids.len());
    for id in ids {
        if id.is_empty() || id.len() > super::ID_MAX {
            return Err(EngineError::invalid("cabinets", "No such cabinet."));
        }
        if !seen.contains(&id) {
            seen.push(id);
        }
    }
    if seen.len() > DEVICE_CABINETS_MAX {
        return Err(EngineError::invalid(
            "cabinets",
            format!("At most {DEVICE_CABINETS_MAX} cabinets."),
        ));
    }
    Ok(seen)
}

/// Each cabinet is the trader's.
pub(super) fn check_cabinets_of(
    tx: &mut dyn Tx,
    trader_id: &str,
    cabinet_ids: &[String],
) -> EngineResult<()> {
    if cabinet_ids.is_empty() {
        return Ok(());
    }
    let own: Vec<String> = tx
        .cabinets_of_trader(trader_id)?
        .into_iter()
        .map(|c| c.id)
        .collect();
    match cabinet_ids.iter().find(|id| !own.contains(id)) {
        Some(id) => Err(EngineError::invalid(
            "cabinets",
            format!("No such cabinet of the trader: {id}."),
        )),
        None => Ok(()),
    }
}
