//! Why legacy answers take 44 ms, and the cure. gevent's pywsgi writes a response's head
//! and body in two sends on a socket with Nagle's algorithm on, so the body waits until
//! the head is acknowledged; and the receiving kernel delays that ACK (up to 40 ms) while
//! it has nothing to send back. Any client of rotki pays this on every keep-alive request.
//! Banyan's legacy connections ask for the ACK at once (`TCP_QUICKACK`, which Linux clears
//! again by itself), so legacy's Nagle never waits on banyan: hyper's path after every
//! read, the byte-level passthrough only while a response is incomplete.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

pub struct QuickAck(pub TcpStream);

impl QuickAck {
    /// Acknowledges what was read, now. The byte-level passthrough reads from the stream
    /// directly and calls this only when a response is still incomplete after a read: a
    /// response that came whole (the usual case from a fast backend) then costs no extra
    /// syscall and no extra ACK packet.
    pub fn ack_now(&self) {
        ack_now(&self.0)
    }
}

impl AsyncRead for QuickAck {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.0).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            if buf.filled().len() > before {
                ack_now(&self.0);
            }
        }
        polled
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn ack_now(stream: &TcpStream) {
    // A failure only costs the delay this avoids.
    let _ = socket2::SockRef::from(stream).set_tcp_quickack(true);
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn ack_now(_: &TcpStream) {}

impl AsyncWrite for QuickAck {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
