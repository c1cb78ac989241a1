//! A client IP address as text (`127.0.0.1`, `::1`), written into a stack buffer: both
//! the sticky decision and `X-Forwarded-For` need it on every request, without a heap
//! allocation.

use std::io::Write;
use std::net::IpAddr;

/// Long enough for any IPv6 address in text form (45 bytes at most).
pub type Buf = [u8; 48];

pub fn text(ip: IpAddr, buf: &mut Buf) -> &[u8] {
    if let IpAddr::V4(v4) = ip {
        // The common case, by hand: `write!` costs more than the rest of a proxied request's
        // header rewriting.
        let mut n = 0;
        for (i, octet) in v4.octets().into_iter().enumerate() {
            if i > 0 {
                buf[n] = b'.';
                n += 1;
            }
            if octet >= 100 {
                buf[n] = b'0' + octet / 100;
                n += 1;
            }
            if octet >= 10 {
                buf[n] = b'0' + octet / 10 % 10;
                n += 1;
            }
            buf[n] = b'0' + octet % 10;
            n += 1;
        }
        return &buf[..n];
    }
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
        for v4 in ["127.0.0.1", "0.0.0.0", "10.200.3.255", "192.168.100.9"] {
            assert_eq!(text(v4.parse().unwrap(), &mut buf), v4.as_bytes());
        }
        let long: IpAddr = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255".parse().unwrap();
        assert_eq!(text(long, &mut buf), long.to_string().as_bytes());
    }
}
