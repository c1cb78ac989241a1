//! The fast upstream every load-benchmark contender forwards to: answers any request
//! with rotki's `/api/1/ping` response (same headers and bytes), as fast as hyper can,
//! so the benchmark measures the proxies, not the backend.
//! Usage: `upstream <addr> [delay_ms]` (port 0 picks one); prints `LISTENING <port>`. With
//! a delay it answers that much later: a slow backend for the shadow benchmark.

#[path = "listening.rs"]
mod listening;

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

const BODY: &[u8] = br#"{"result": true, "message": ""}"#;

#[tokio::main]
async fn main() {
    let listener = listening::bind_from_args().await;
    let delay = std::time::Duration::from_millis(std::env::args().nth(2).map_or(0, |d| d.parse().expect("delay_ms")));
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(move |_req: Request<hyper::body::Incoming>| async move {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let resp = Response::builder()
                    .header("mimetype", "application/json")
                    .header("content-type", "application/json")
                    .header("content-length", BODY.len())
                    .body(Full::new(Bytes::from_static(BODY)))
                    .expect("valid response");
                Ok::<_, Infallible>(resp)
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
