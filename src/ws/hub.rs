//! The native notifier: the hub native code publishes rotki's websocket messages to.
//! Like rotki's notifier, every message goes to every open socket, in one order for all.
//! Each socket has a bounded queue; one that cannot keep up is cut loose (its session
//! closes it with 1013) instead of letting the queue grow.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::rotki::json;

/// rotki's message types (`WSMessageType`, websocket.md §4), as they go on the wire.
pub const MESSAGE_TYPES: [&str; 25] = [
    "legacy",
    "balance_snapshot_error",
    "transaction_status",
    "premium_status_update",
    "db_upgrade_status",
    "evmlike_accounts_detection",
    "new_token_detected",
    "data_migration_status",
    "missing_api_key",
    "history_events_status",
    "refresh_balances",
    "database_upload_result",
    "accounting_rule_conflict",
    "calendar_reminder",
    "exchange_unknown_asset",
    "progress_updates",
    "gnosispay_sessionkey_expired",
    "monerium_sessionkey_expired",
    "solana_tokens_migration",
    "database_upload_progress",
    "binance_pairs_missing",
    "unmatched_asset_movements",
    "negative_balance_detected",
    "no_available_indexers",
    "internal_tx_fixed",
];

/// One of [`MESSAGE_TYPES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageType(&'static str);

impl MessageType {
    pub fn parse(name: &str) -> Option<MessageType> {
        MESSAGE_TYPES.iter().find(|t| **t == name).map(|t| MessageType(t))
    }
}

/// `{"type": ..., "data": ...}`, in that order, as `json.dumps` writes it.
#[derive(Serialize)]
struct Envelope<'a, T: Serialize + ?Sized> {
    #[serde(rename = "type")]
    kind: &'static str,
    data: &'a T,
}

pub struct Hub {
    queue: usize,
    clients: Mutex<Clients>,
}

#[derive(Default)]
struct Clients {
    next: u64,
    open: HashMap<u64, Client>,
}

struct Client {
    tx: mpsc::Sender<Utf8Bytes>,
    slow: Arc<AtomicBool>,
}

/// One socket's place in the hub; leaves it when dropped.
pub struct Subscription {
    id: u64,
    rx: mpsc::Receiver<Utf8Bytes>,
    slow: Arc<AtomicBool>,
    hub: Arc<Hub>,
}

/// What a subscription yields next.
pub enum Next {
    Message(Utf8Bytes),
    /// The socket fell a whole queue behind: close it with 1013.
    TooSlow,
}

impl Hub {
    /// A hub whose sockets may fall `queue` messages behind.
    pub fn new(queue: usize) -> Arc<Hub> {
        Arc::new(Hub { queue: queue.max(1), clients: Mutex::default() })
    }

    pub fn subscribe(self: &Arc<Hub>) -> Subscription {
        let (tx, rx) = mpsc::channel(self.queue);
        let slow = Arc::new(AtomicBool::new(false));
        let mut clients = self.lock();
        let id = clients.next;
        clients.next += 1;
        clients.open.insert(id, Client { tx, slow: slow.clone() });
        Subscription { id, rx, slow, hub: self.clone() }
    }

    /// Publishes a message of `kind` with `data`, serialized like rotki's; returns to how
    /// many sockets it was queued.
    pub fn publish<T: Serialize + ?Sized>(&self, kind: MessageType, data: &T) -> usize {
        let text = json::dumps(&Envelope { kind: kind.0, data });
        // `json.dumps` writes ASCII only.
        self.publish_text(Utf8Bytes::try_from(text).expect("ASCII is UTF-8"))
    }

    /// Queues `text` for every socket; a socket whose queue is full is cut loose.
    pub fn publish_text(&self, text: Utf8Bytes) -> usize {
        let mut clients = self.lock();
        let mut delivered = 0;
        clients.open.retain(|_, c| match c.tx.try_send(text.clone()) {
            Ok(()) => {
                delivered += 1;
                true
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                c.slow.store(true, Ordering::Release);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
        delivered
    }

    /// Sockets subscribed now.
    pub fn subscribers(&self) -> usize {
        self.lock().open.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Clients> {
        // A panic while holding the lock leaves the map consistent (each step is one
        // insert or remove), so a poisoned lock is still usable.
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Subscription {
    /// The next message for this socket, or that it fell too far behind.
    pub async fn next(&mut self) -> Next {
        match self.rx.recv().await {
            // Cut loose: close now rather than deliver a stale backlog.
            _ if self.slow.load(Ordering::Acquire) => Next::TooSlow,
            Some(text) => Next::Message(text),
            // Only the hub holds the sender, and it drops it only when cutting loose.
            None => Next::TooSlow,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.lock().open.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Missing {
        service: &'static str,
    }

    #[tokio::test]
    async fn every_subscriber_gets_every_message_serialized_like_rotki() {
        let hub = Hub::new(8);
        let (mut a, mut b) = (hub.subscribe(), hub.subscribe());
        let kind = MessageType::parse("missing_api_key").unwrap();
        assert_eq!(hub.publish(kind, &Missing { service: "etherscan" }), 2);
        for sub in [&mut a, &mut b] {
            match sub.next().await {
                Next::Message(m) => {
                    assert_eq!(m.as_str(), r#"{"type": "missing_api_key", "data": {"service": "etherscan"}}"#)
                }
                Next::TooSlow => panic!("not slow"),
            }
        }
        drop(b);
        assert_eq!(hub.subscribers(), 1);
        assert!(MessageType::parse("nope").is_none());
    }

    #[tokio::test]
    async fn a_subscriber_a_whole_queue_behind_is_cut_loose() {
        let hub = Hub::new(2);
        let (mut slow, mut quick) = (hub.subscribe(), hub.subscribe());
        for i in 0..3 {
            hub.publish_text(Utf8Bytes::from(format!("m{i}")));
            if let Next::Message(m) = quick.next().await {
                assert_eq!(m.as_str(), format!("m{i}"));
            }
        }
        assert!(matches!(slow.next().await, Next::TooSlow));
        assert_eq!(hub.subscribers(), 1);
    }
}
