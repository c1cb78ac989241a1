//! A client IP address as text (`127.0.0.1`, `::1`), written into a stack buffer: both
//! the sticky decision and `X-Forwarded-For` need it on every request, without a heap
//! allocation.

use std::io::Write;
use std::net::IpAddr;

/// Long enough for any IPv6 address in text form (45 bytes at most).
pub type Buf = [u8; 48];

pub fn text(ip: IpAddr, buf: &mut Buf) -> &[u8] {
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let n = match write!(cursor, "{ip}") {
        Ok(()) => cursor.position() as usize,
        Err(_) => 0,
    };
    &buf[..n]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_both_families() {
        let mut buf = [0; 48];
        assert_eq!(text("127.0.0.1".parse().unwrap(), &mut buf), b"127.0.0.1");
        let long: IpAddr = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255".parse().unwrap();
        assert_eq!(text(long, &mut buf), long.to_string().as_bytes());
    }
}
