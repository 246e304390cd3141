//! The service catalog as the operator keeps it.

use kassa_domain::catalog::default_catalog;
use kassa_domain::{Catalog, Service};
use regex::Regex;

use std::sync::Arc;

use crate::{Engine, EngineError, EngineResult};

/// How long a read of the catalog is reused.
pub const CATALOG_TTL: std::time::Duration = std::time::Duration::from_secs(2);

impl Engine {
    /// Installs the shipped methods and services that the store lacks; never
    /// overwrites what the operator changed.
    pub async fn seed_catalog(&self) -> EngineResult<usize> {
        self.write(|tx| {
            let shipped = default_catalog();
            let mut added = 0;
            let methods = tx.methods()?;
            for m in shipped.methods {
                if !methods.iter().any(|have| have.code == m.code) {
                    tx.put_method(&m)?;
                }
            }
            for s in shipped.services {
                if tx.service(&s.code)?.is_none() {
                    tx.put_service(&s)?;
                    added += 1;
                }
            }
            Ok(added)
        })
        .await
        .inspect(|_| self.catalog_cache.clear())
    }

    /// The catalog, read at most once per [`CATALOG_TTL`]: the operator's
    /// changes from another process show within that time, this process's
    /// at once.
    pub async fn catalog(&self) -> EngineResult<Arc<Catalog>> {
        if let Some(catalog) = self.catalog_cache.get(&()) {
            return Ok(catalog);
        }
        let catalog = Arc::new(
            self.read(|tx| {
                Ok(Catalog {
                    methods: tx.methods()?,
                    services: tx.services()?,
                })
            })
            .await?,
        );
        self.catalog_cache.put((), catalog.clone());
        Ok(catalog)
    }

    /// Adds or replaces a service after checking it is coherent.
    pub async fn put_service(&self, service: Service) -> EngineResult<Service> {
        check_service(&service)?;
        self.write(move |tx| put_service_in(tx, service))
            .await
            .inspect(|_| self.catalog_cache.clear())
    }

    /// Forgets the cached catalog: a change of this process shows at once.
    pub(crate) fn catalog_changed(&self) {
        self.catalog_cache.clear();
    }
}

/// Stores a service already checked, refused when its method is unknown.
pub(crate) fn put_service_in(
    tx: &mut dyn kassa_store::Tx,
    service: Service,
) -> EngineResult<Service> {
    if tx.methods()?.iter().all(|m| m.code != service.method) {
        return Err(EngineError::invalid("method", "Unknown payment method."));
    }
    tx.put_service(&service)?;
    Ok(service)
}

pub(crate) fn check_service(s: &Service) -> EngineResult<()> {
    let valid_code = !s.code.is_empty()
        && s.code.len() <= 64
        && s.code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid_code {
        return Err(EngineError::invalid(
            "code",
            "Use 1 to 64 of a-z, 0-9 and _.",
        ));
    }
    if s.amount_min_minor < 1 || s.amount_max_minor < s.amount_min_minor {
        return Err(EngineError::invalid(
            "amount_min",
            "Limits must satisfy 0 < min <= max.",
        ));
    }
    if !s.fee.is_valid() {
        return Err(EngineError::invalid(
            "fee",
            "Fees are between 0 and 100% and not negative.",
        ));
    }
    // Booked, a reserve outside 0..=100% fails the pay-in's write (and with
    // it the whole pass of the worker that settles it).
    let reserve = &s.reserve;
    if !(0..=1_000_000).contains(&reserve.rate_ppm) || reserve.lifetime_secs < 0 {
        return Err(EngineError::invalid(
            "reserve",
            "The reserve is between 0 and 100% and its lifetime not negative.",
        ));
    }
    if s.verification_amount_minor
        .is_some_and(|v| v < 1 || v > s.amount_max_minor)
    {
        return Err(EngineError::invalid(
            "verification_amount",
            "A verification amount is above 0 and within the service's maximum.",
        ));
    }
    for f in &s.fields {
        if let Some(re) = &f.regexp {
            Regex::new(re)
                .map_err(|e| EngineError::invalid("fields", format!("{}: {e}", f.key)))?;
        }
    }
    Ok(())
}
