//! rotki's wire format, as `shared/rotki/wire.md` records it: the two JSON serializers,
//! the response envelope and its headers, webargs-style argument reading and flask-cors.
//! Native handlers build their answers from these pieces so they match legacy to the byte.

pub mod args;
pub mod assets;
pub mod cors;
pub mod filter;
pub mod head;
pub mod json;
pub mod location;
pub mod pyrepr;
pub mod response;
pub mod schema;
