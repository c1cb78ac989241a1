//! The way to legacy: a pooled hyper client that forwards requests as they came, streaming
//! bodies both ways, and answers in rotki's envelope when legacy is down (502) or slow (504).

mod forwarded;
mod hop;
mod upgrade;

pub use upgrade::is_websocket_upgrade;

use std::net::SocketAddr;
use std::time::Duration;

use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderValue, Request, Response, StatusCode, Uri, Version};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::body::{self, Body};
use crate::config::LegacyConfig;
use crate::rotki::cors::Cors;
use crate::rotki::response;

pub struct Legacy {
    client: Client<HttpConnector, Body>,
    scheme: Scheme,
    authority: Authority,
    url: String,
    timeout: Duration,
    connect_timeout: Duration,
    /// rotki answers every allowed Origin with CORS headers, errors included; banyan's own
    /// 502/504 do too, or the browser would hide them from the frontend.
    cors: Cors,
}

impl Legacy {
    pub fn new(cfg: &LegacyConfig, cors: Cors) -> Legacy {
        let mut connector = HttpConnector::new();
        // Requests go out in one write and must not wait on Nagle's algorithm: gevent's
        // delayed ACKs would hold each one back by tens of milliseconds.
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(cfg.connect_timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(cfg.pool_idle_timeout)
            // Forwarded header names keep the case they arrived with, both ways.
            .http1_preserve_header_case(true)
            .build(connector);
        Legacy {
            client,
            scheme: cfg.url.scheme().cloned().unwrap_or(Scheme::HTTP),
            authority: cfg.url.authority().cloned().expect("validated in config"),
            url: cfg.url.to_string().trim_end_matches('/').to_string(),
            timeout: cfg.timeout,
            connect_timeout: cfg.connect_timeout,
            cors,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Forwards a request and returns legacy's response, or a 502/504 envelope.
    pub async fn forward(&self, req: Request<Body>, peer: SocketAddr) -> Response<Body> {
        let (mut parts, body) = req.into_parts();
        let origin = Cors::origin(&parts.headers);
        let upgrade = upgrade::take(&mut parts);
        hop::strip(&mut parts.headers);
        if let Some(u) = &upgrade {
            u.restore_headers(&mut parts.headers);
        }
        forwarded::add(&mut parts.headers, peer);
        let path = parts.uri.path_and_query().cloned().unwrap_or_else(|| PathAndQuery::from_static("/"));
        let mut uri = Uri::builder().scheme(self.scheme.clone()).authority(self.authority.clone());
        uri = uri.path_and_query(path);
        parts.uri = uri.build().expect("parts of valid URIs");
        parts.version = Version::HTTP_11;

        match tokio::time::timeout(self.timeout, self.client.request(Request::from_parts(parts, body))).await {
            Ok(Ok(mut resp)) => {
                let switching = resp.status() == StatusCode::SWITCHING_PROTOCOLS;
                match upgrade {
                    Some(u) if switching => {
                        u.splice(&mut resp);
                        // The 101 must keep its Upgrade and Connection headers.
                        let (parts, incoming) = resp.into_parts();
                        Response::from_parts(parts, body::stream(incoming))
                    }
                    _ => {
                        let (mut parts, incoming) = resp.into_parts();
                        hop::strip(&mut parts.headers);
                        Response::from_parts(parts, body::stream(incoming))
                    }
                }
            }
            Ok(Err(e)) => {
                let cause = root_cause(&e);
                tracing::warn!(legacy = %self.url, "legacy request failed: {cause}");
                let msg = if e.is_connect() {
                    format!("Legacy backend at {} is unreachable: {cause}", self.url)
                } else {
                    format!("Legacy backend at {} failed: {cause}", self.url)
                };
                self.own_answer(StatusCode::BAD_GATEWAY, &msg, origin)
            }
            Err(_) => {
                let ms = self.timeout.as_millis();
                tracing::warn!(legacy = %self.url, timeout_ms = ms as u64, "legacy did not answer in time");
                let msg = format!("Legacy backend at {} did not answer within {ms} ms", self.url);
                self.own_answer(StatusCode::GATEWAY_TIMEOUT, &msg, origin)
            }
        }
    }

    fn own_answer(&self, status: StatusCode, message: &str, origin: Option<HeaderValue>) -> Response<Body> {
        let mut resp = response::fail(status, message);
        self.cors.apply(origin.as_ref(), resp.headers_mut());
        resp.map(body::full_from)
    }

    /// Whether legacy accepts TCP connections now (for `/readyz`).
    pub async fn reachable(&self) -> bool {
        let port = self.authority.port_u16().unwrap_or(80);
        let host = self.authority.host().trim_start_matches('[').trim_end_matches(']');
        let connect = tokio::net::TcpStream::connect((host, port));
        matches!(tokio::time::timeout(self.connect_timeout, connect).await, Ok(Ok(_)))
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
