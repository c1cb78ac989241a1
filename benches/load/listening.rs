//! What every helper server of the load benchmark does first: bind the address given as
//! its first argument (port 0 picks one) and print `LISTENING <port>` for the benchmark.

use tokio::net::TcpListener;

pub async fn bind_from_args() -> TcpListener {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = TcpListener::bind(&addr).await.expect("bind");
    println!("LISTENING {}", listener.local_addr().unwrap().port());
    listener
}
