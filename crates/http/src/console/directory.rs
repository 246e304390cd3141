//! Traders and their cabinets by id, for pages that name them beside deals,
//! notifications and payouts.

use std::collections::HashMap;

use kassa_domain::{Cabinet, Currency, Trader};
use kassa_engine::{Engine, EngineResult};

pub struct Directory {
    pub traders: Vec<Trader>,
    cabinets: HashMap<String, Cabinet>,
}

impl Directory {
    pub async fn load(engine: &Engine) -> EngineResult<Directory> {
        let traders = engine.traders().await?;
        let mut cabinets = HashMap::new();
        for t in &traders {
            for c in engine.trader_cabinets(t.id.clone()).await? {
                cabinets.insert(c.id.clone(), c);
            }
        }
        Ok(Directory { traders, cabinets })
    }

    pub fn trader_name<'a>(&'a self, id: &'a str) -> &'a str {
        self.traders
            .iter()
            .find(|t| t.id == id)
            .map_or(id, |t| t.name.as_str())
    }

    pub fn cabinet(&self, id: &str) -> Option<&Cabinet> {
        self.cabinets.get(id)
    }

    pub fn currency(&self, cabinet_id: &str) -> Option<Currency> {
        self.cabinet(cabinet_id).map(|c| c.currency)
    }

    /// An amount in the cabinet's currency, or bare minor units when the
    /// cabinet is unknown.
    pub fn money(&self, cabinet_id: &str, minor: i64) -> String {
        match self.currency(cabinet_id) {
            Some(c) => crate::web::format::money(minor, c),
            None => minor.to_string(),
        }
    }
}
