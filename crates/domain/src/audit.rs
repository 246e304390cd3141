//! The console's audit log: who changed what, when. One entry per change,
//! written in the store transaction of the change itself.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: String,
    pub at_secs: i64,
    /// The operator user who made the change, and their email at the time.
    pub user_id: String,
    pub email: String,
    /// What was done, a fixed word (`deal.resolve`, `cabinet.off`, ...).
    pub action: String,
    /// The id of what it was done to.
    pub target: String,
    /// A short human note (the outcome chosen, the settings changed).
    pub detail: String,
}
