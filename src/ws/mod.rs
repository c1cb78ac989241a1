//! The websocket bridge. A route with `websocket = "relay"` has banyan carry the stream at
//! the message level instead of splicing bytes: legacy's handshake answer reaches the
//! client as it came (so the client's key, cookies, Origin and offered subprotocols are
//! legacy's to judge), and from the 101 on banyan holds a websocket to each side and
//! relays messages, pings and closes between them (`relay.rs`). That is where the native
//! notifier's messages will be interleaved (`merge`) or served alone (`native`).

mod relay;

pub use relay::relay;
