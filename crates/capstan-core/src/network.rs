//! Whether the network has been found unreachable in a run.
//!
//! One [`Reachability`] is shared by every fetcher of a run (remote kustomize resources,
//! charts). A fetcher calls [`Reachability::mark`] when it cannot resolve or connect to a host,
//! and asks [`Reachability::unreachable`] before it starts: once one fetch has found no network,
//! the others fail at once with the same cause instead of each waiting for its own timeout, and
//! every such failure names that first cause rather than its own. It holds no I/O of its own.

use std::sync::Mutex;

/// The first failure that showed the network unreachable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "network unreachable: {host}: {reason} (no further fetches are tried in this run; --offline reads the cache only)"
)]
pub struct Unreachable {
    /// The host that could not be reached.
    pub host: String,
    /// What failed (resolving the name, connecting, a timeout).
    pub reason: String,
}

/// A run's record of the network's reachability (share it behind an `Arc`).
#[derive(Debug, Default)]
pub struct Reachability {
    state: Mutex<Option<Unreachable>>,
}

impl Reachability {
    /// A record with nothing found unreachable yet.
    pub fn new() -> Reachability {
        Reachability::default()
    }

    /// Records that `host` could not be resolved or connected to, and returns the cause now in
    /// force (the first one recorded).
    pub fn mark(&self, host: &str, reason: &str) -> Unreachable {
        let first = Unreachable {
            host: host.to_owned(),
            reason: reason.to_owned(),
        };
        match self.state.lock() {
            Ok(mut state) => state.get_or_insert(first).clone(),
            Err(_) => first,
        }
    }

    /// The failure that showed the network unreachable, once one has.
    pub fn unreachable(&self) -> Option<Unreachable> {
        self.state.lock().ok().and_then(|s| s.clone())
    }
}

/// Two records are the same record (a run's settings compare equal when they share one).
impl PartialEq for Reachability {
    fn eq(&self, other: &Reachability) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for Reachability {}

#[cfg(test)]
mod tests {
    use super::Reachability;

    #[test]
    fn the_first_cause_is_kept() {
        let r = Reachability::new();
        assert!(r.unreachable().is_none());
        assert_eq!(r.mark("a", "dns").host, "a");
        assert_eq!(r.mark("b", "refused").host, "a");
        assert_eq!(r.unreachable().map(|u| u.reason).as_deref(), Some("dns"));
    }
}
