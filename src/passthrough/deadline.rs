//! One timer per connection for its timeouts (the header read, legacy's answer). Arming a
//! tokio timer per request costs a timer-wheel insert and remove each time; this one stays
//! armed, and moving the deadline later only records it. When the timer fires early it
//! re-arms for the recorded deadline, so it re-registers about once per timeout period, not
//! once per request.

use std::future::Future;
use std::pin::Pin;

use tokio::time::{Instant, Sleep};

pub struct Deadline {
    timer: Pin<Box<Sleep>>,
    armed: Instant,
    deadline: Instant,
}

/// The deadline passed.
pub struct Elapsed;

impl Deadline {
    pub fn new() -> Deadline {
        let far = Instant::now() + std::time::Duration::from_secs(86_400);
        Deadline { timer: Box::pin(tokio::time::sleep_until(far)), armed: far, deadline: far }
    }

    /// Runs `fut` until `deadline`.
    pub async fn run<F: Future>(&mut self, deadline: Instant, fut: F) -> Result<F::Output, Elapsed> {
        self.deadline = deadline;
        if deadline < self.armed {
            self.arm(deadline);
        }
        tokio::pin!(fut);
        loop {
            tokio::select! {
                biased;
                out = &mut fut => return Ok(out),
                _ = &mut self.timer => {
                    if Instant::now() >= self.deadline {
                        return Err(Elapsed);
                    }
                    self.arm(self.deadline);
                }
            }
        }
    }

    fn arm(&mut self, at: Instant) {
        self.timer.as_mut().reset(at);
        self.armed = at;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn ends_the_wait_at_the_deadline_last_set() {
        let mut d = Deadline::new();
        let ms = Duration::from_millis;
        let start = Instant::now();
        // Arms the timer for 20 ms from now.
        assert!(d.run(start + ms(20), async {}).await.is_ok());
        // A later deadline only records it: the timer fires at 20 ms, re-arms, and the wait
        // ends at 60 ms.
        assert!(d.run(start + ms(60), std::future::pending::<()>()).await.is_err());
        assert!(Instant::now() - start >= ms(60));
        // An earlier deadline than the armed one re-arms at once.
        let mut d = Deadline::new();
        let start = Instant::now();
        assert!(d.run(start + ms(10), std::future::pending::<()>()).await.is_err());
        let waited = Instant::now() - start;
        assert!(waited >= ms(10) && waited < ms(10_000), "{waited:?}");
    }
}
