//! Sweeps change many rows in one write; each row is changed apart, so one
//! that fails (a posting refused, a document the build cannot read) is
//! rolled back and logged alone and the others go on.

use kassa_store::Tx;

use crate::{EngineError, EngineResult};

/// Runs `step` on each item in a savepoint of its own. Returns how many
/// items were changed. A store that became unavailable ends the sweep: the
/// items left would fail the same way.
pub(crate) fn each_apart<T>(
    tx: &mut dyn Tx,
    what: &'static str,
    items: Vec<T>,
    id_of: impl Fn(&T) -> String,
    mut step: impl FnMut(&mut dyn Tx, T) -> EngineResult<()>,
) -> EngineResult<usize> {
    let mut changed = 0;
    for item in items {
        let id = id_of(&item);
        let mut item = Some(item);
        let mut failure = None;
        let noted = crate::telemetry::mark();
        let kept = tx.apart(&mut |tx| {
            let item = item.take().expect("a savepoint runs its work once");
            match step(tx, item) {
                Ok(()) => true,
                Err(e) => {
                    failure = Some(e);
                    false
                }
            }
        })?;
        if !kept {
            // Rolled back: what it changed is not counted.
            crate::telemetry::forget_since(noted);
        }
        match failure {
            None if kept => changed += 1,
            Some(e @ EngineError::Unavailable(_)) => return Err(e),
            failure => {
                let error = failure.map_or_else(|| "a statement failed".into(), |e| e.to_string());
                tracing::error!(sweep = what, id = %id, %error, "an item of a sweep failed; the others go on");
            }
        }
    }
    Ok(changed)
}
