//! `[upstreams.NAME]`: a backend besides rotki-core (rotki's colibri sidecar), answering
//! the paths under its prefix with the prefix taken off. It is carried exactly as legacy
//! is (`legacy/`: its own pool of the same kind, timeouts, hop-by-hop rules, forwarding
//! headers, 502 and 504 in rotki's envelope), and counted under its own name; flags never
//! route to it.

use std::net::SocketAddr;

use http::{HeaderValue, Request, Response};
use hyper::body::Incoming;

use crate::body::{self, Body};
use crate::config::UpstreamConfig;
use crate::failure::{Context, Failure, Responder};
use crate::legacy::Legacy;
use crate::rotki::cors::Cors;

pub struct Upstream {
    name: String,
    /// `x-banyan-backend` on its answers.
    header: HeaderValue,
    prefix: String,
    conn: Legacy,
    responder: Responder,
}

impl Upstream {
    pub fn new(cfg: &UpstreamConfig, cors: Cors, preserve_header_case: bool, max_body: u64) -> Upstream {
        let conn = Legacy::new(&cfg.connect, preserve_header_case, max_body);
        Upstream {
            header: HeaderValue::from_str(&cfg.name).expect("names are checked in config"),
            responder: Responder::of(&cfg.name, cors, conn.url()),
            name: cfg.name.clone(),
            prefix: cfg.prefix.clone(),
            conn,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// What answers carry as `x-banyan-backend`.
    pub fn backend_header(&self) -> HeaderValue {
        self.header.clone()
    }

    /// Its answer to `req` (a body of unknown length held to `max_body`), or banyan's
    /// envelope for why there is none.
    pub async fn serve(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
        max_body: u64,
        at: Context<'_>,
    ) -> Response<Body> {
        let origin = Cors::origin(req.headers());
        let (mut parts, incoming) = req.into_parts();
        parts.uri = self.stripped(&parts.uri);
        let req = Request::from_parts(parts, body::limited(incoming, max_body));
        // A connection of this upstream's pool for this request: idle again after it.
        let slot = self.conn.slot();
        match self.conn.forward(req, peer, &slot, None).await {
            Ok(resp) => resp,
            Err(failure) => {
                let failure = match failure {
                    Failure::TooLarge(_) => Failure::TooLarge(max_body),
                    f => f,
                };
                self.responder.answer(&failure, origin.as_ref(), at).map(body::full_from)
            }
        }
    }

    /// The target as the upstream gets it: repeated slashes merged (as nginx normalizes
    /// before its `proxy_pass` replaces the location), the prefix off, the query kept.
    fn stripped(&self, uri: &http::Uri) -> http::Uri {
        let merged = crate::request::merge_slashes(uri.path());
        let path = crate::request::strip_prefix(&merged, &self.prefix);
        let target = match uri.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        };
        target.parse().unwrap_or_else(|_| http::Uri::from_static("/"))
    }
}
