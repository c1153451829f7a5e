//! Idempotency keys under way on this node (held in the shared state;
//! used by [`idempotency`](crate::idempotency)).

/// Requests with an `Idempotency-Key` under way on this node, so that two
/// with the same key never run at once.
#[derive(Default)]
pub struct InFlight {
    keys: std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>,
}

impl InFlight {
    pub(crate) async fn hold(&self, key: String) -> (tokio::sync::OwnedMutexGuard<()>, InFlightEntry<'_>) {
        let lock = self
            .keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.clone())
            .or_default()
            .clone();
        (lock.lock_owned().await, InFlightEntry { owner: self, key })
    }
}

/// Forgets a key's lock when its last holder is done.
pub(crate) struct InFlightEntry<'a> {
    owner: &'a InFlight,
    key: String,
}

impl Drop for InFlightEntry<'_> {
    fn drop(&mut self) {
        let mut keys = self.owner.keys.lock().unwrap_or_else(|e| e.into_inner());
        if keys.get(&self.key).is_some_and(|l| std::sync::Arc::strong_count(l) <= 2) {
            keys.remove(&self.key);
        }
    }
}
