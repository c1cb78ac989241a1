//! The bare byte forwarder: the least an HTTP/1 keep-alive proxy can do, laid out like
//! banyan's byte-level passthrough (a thread per core with its own runtime and
//! `SO_REUSEPORT` socket, one upstream connection per client connection) but with nothing
//! else: no routing, no header rewriting, no timeouts, no chunked bodies, no errors
//! handled. The load benchmark's floor for what banyan's passthrough features cost.
//! Usage: `bare-bytes <listen> <upstream host:port> [threads]` (default: one per core);
//! prints `LISTENING <port>`.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn main() {
    let mut args = std::env::args().skip(1);
    let listen: SocketAddr = args.next().unwrap_or_else(|| "127.0.0.1:0".into()).parse().expect("listen address");
    let upstream: SocketAddr = args.next().expect("upstream host:port").parse().expect("upstream address");
    let first = bind(listen);
    let addr = first.local_addr().unwrap();
    println!("LISTENING {}", addr.port());
    let cores = match args.next() {
        Some(n) => n.parse().expect("threads"),
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let sockets: Vec<_> = std::iter::once(first).chain((1..cores).map(|_| bind(addr))).collect();
    let threads: Vec<_> = sockets.into_iter().map(|s| std::thread::spawn(move || serve(s, upstream))).collect();
    for t in threads {
        let _ = t.join();
    }
}

fn bind(addr: SocketAddr) -> std::net::TcpListener {
    let s = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None).unwrap();
    s.set_reuse_port(true).unwrap();
    s.bind(&addr.into()).expect("bind");
    s.listen(1024).unwrap();
    s.set_nonblocking(true).unwrap();
    s.into()
}

fn serve(socket: std::net::TcpListener, upstream: SocketAddr) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    tokio::task::LocalSet::new().block_on(&runtime, async move {
        let listener = TcpListener::from_std(socket).unwrap();
        loop {
            let Ok((client, _)) = listener.accept().await else { continue };
            let _ = client.set_nodelay(true);
            tokio::task::spawn_local(connection(client, upstream));
        }
    })
}

async fn connection(mut client: TcpStream, upstream: SocketAddr) -> std::io::Result<()> {
    let mut upstream = TcpStream::connect(upstream).await?;
    upstream.set_nodelay(true)?;
    let (mut req, mut resp) = (vec![0; 16384], vec![0; 16384]);
    let mut filled = 0;
    loop {
        let head = loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            if let httparse::Status::Complete(n) = httparse::Request::new(&mut headers).parse(&req[..filled]).unwrap() {
                break n;
            }
            match client.read(&mut req[filled..]).await? {
                0 => return Ok(()),
                n => filled += n,
            }
        };
        upstream.write_all(&req[..head]).await?;
        req.copy_within(head..filled, 0);
        filled -= head;
        let mut got = 0;
        let end = loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut parsed = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(n) = parsed.parse(&resp[..got]).unwrap() {
                let length = parsed.headers.iter().find(|h| h.name.eq_ignore_ascii_case("content-length"));
                break n + length.map_or(0, |h| std::str::from_utf8(h.value).unwrap().parse::<usize>().unwrap());
            }
            match upstream.read(&mut resp[got..]).await? {
                0 => return Ok(()),
                n => got += n,
            }
        };
        while got < end {
            match upstream.read(&mut resp[got..]).await? {
                0 => return Ok(()),
                n => got += n,
            }
        }
        client.write_all(&resp[..end]).await?;
    }
}
