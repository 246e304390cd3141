//! Who acts on traders' cabinets, deals and notifications: a trader, on its
//! own only, or the operator, on everyone's.

/// The one acting on a trader's cabinets, deals and notifications.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A trader by its id: what another trader owns is as unknown to it as
    /// what does not exist.
    Trader(String),
    Operator,
}

impl Actor {
    /// The trader acting, if one is.
    pub fn trader_id(&self) -> Option<&str> {
        match self {
            Actor::Trader(id) => Some(id),
            Actor::Operator => None,
        }
    }

    /// Whether what `owner` (a trader's id) owns is within reach.
    pub fn reaches(&self, owner: &str) -> bool {
        self.trader_id().is_none_or(|id| id == owner)
    }

    /// Who settled a deal, as the deal records it.
    pub fn settled_by(&self) -> &'static str {
        match self {
            Actor::Trader(_) => "trader",
            Actor::Operator => "operator",
        }
    }
}

/// A trader's id, or none for the operator: the older way of saying who acts.
impl From<Option<String>> for Actor {
    fn from(trader_id: Option<String>) -> Self {
        trader_id.map_or(Actor::Operator, Actor::Trader)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trader_reaches_its_own_only() {
        let t = Actor::Trader("t1".into());
        assert!(t.reaches("t1") && !t.reaches("t2"));
        assert!(Actor::Operator.reaches("t2"));
        assert_eq!(Actor::from(None), Actor::Operator);
        assert_eq!(t.settled_by(), "trader");
    }
}
