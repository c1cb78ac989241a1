//! Where a chunked body ends. The byte-level passthrough sends legacy's chunks on as they
//! are, so it only has to follow the framing (RFC 9112 §7.1): chunk sizes, their
//! extensions, the data, the last chunk and the trailer section. It is strict where a
//! lenient reading could disagree with the client's about where the message ends: lines
//! end in CRLF, sizes are hex digits and fit in 64 bits.

#[derive(Debug, Default)]
pub struct Chunked {
    state: State,
    size: u64,
    digits: u8,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Size,
    /// After the size: optional whitespace, then `;` or CR.
    AfterSize,
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    /// At the start of a trailer line, or of the final empty line.
    TrailerStart,
    TrailerLine,
    TrailerLf,
    EndLf,
    Done,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid chunked framing from legacy")]
pub struct Invalid;

impl Chunked {
    /// Follows `bytes`, the next part of the body; returns how many of them complete the
    /// message, once it ends.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Option<usize>, Invalid> {
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            match self.state {
                State::Size => match hex(b) {
                    Some(d) if self.digits < 16 => {
                        self.size = self.size << 4 | u64::from(d);
                        self.digits += 1;
                    }
                    _ if self.digits == 0 => return Err(Invalid),
                    _ => {
                        self.state = State::AfterSize;
                        continue;
                    }
                },
                State::AfterSize => match b {
                    b' ' | b'\t' => {}
                    b';' => self.state = State::Extension,
                    b'\r' => self.state = State::SizeLf,
                    _ => return Err(Invalid),
                },
                State::Extension => match b {
                    b'\r' => self.state = State::SizeLf,
                    b'\n' => return Err(Invalid),
                    _ => {}
                },
                State::SizeLf => {
                    if b != b'\n' {
                        return Err(Invalid);
                    }
                    self.state = if self.size == 0 { State::TrailerStart } else { State::Data };
                }
                State::Data => {
                    // Skip the chunk's data in one step.
                    let take = (bytes.len() - i).min(usize::try_from(self.size).unwrap_or(usize::MAX));
                    self.size -= take as u64;
                    i += take;
                    if self.size == 0 {
                        self.state = State::DataCr;
                    }
                    continue;
                }
                State::DataCr => self.expect(b, b'\r', State::DataLf)?,
                State::DataLf => {
                    self.expect(b, b'\n', State::Size)?;
                    self.digits = 0;
                }
                State::TrailerStart => match b {
                    b'\r' => self.state = State::EndLf,
                    b'\n' => return Err(Invalid),
                    _ => self.state = State::TrailerLine,
                },
                State::TrailerLine => match b {
                    b'\r' => self.state = State::TrailerLf,
                    b'\n' => return Err(Invalid),
                    _ => {}
                },
                State::TrailerLf => self.expect(b, b'\n', State::TrailerStart)?,
                State::EndLf => {
                    self.expect(b, b'\n', State::Done)?;
                    return Ok(Some(i + 1));
                }
                State::Done => return Ok(Some(0)),
            }
            i += 1;
        }
        Ok(None)
    }

    fn expect(&mut self, b: u8, want: u8, next: State) -> Result<(), Invalid> {
        if b != want {
            return Err(Invalid);
        }
        self.state = next;
        Ok(())
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end_of(body: &[u8]) -> Result<Option<usize>, Invalid> {
        Chunked::default().feed(body)
    }

    #[test]
    fn finds_the_end_after_the_last_chunk_and_trailers() {
        let body = b"5\r\nhello\r\n1a; ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        assert_eq!(end_of(body), Ok(Some(body.len() - 4)));
        assert_eq!(end_of(b"0\r\n\r\n"), Ok(Some(5)));
    }

    #[test]
    fn follows_a_body_split_anywhere() {
        let body = b"A\r\n0123456789\r\n3 ;x\r\nabc\r\n0\r\n\r\n";
        for split in 0..body.len() {
            let mut c = Chunked::default();
            assert_eq!(c.feed(&body[..split]), Ok(None), "split at {split}");
            assert_eq!(c.feed(&body[split..]), Ok(Some(body.len() - split)), "split at {split}");
        }
    }

    #[test]
    fn rejects_what_could_be_read_two_ways() {
        for bad in [
            &b"5\nhello\r\n0\r\n\r\n"[..],
            b"g\r\n",
            b"\r\n",
            b"5\r\nhelloX\r\n",
            b"11111111111111111\r\n",
            b"0\r\n\n",
            b"5 x\r\n",
        ] {
            assert_eq!(end_of(bad), Err(Invalid), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
