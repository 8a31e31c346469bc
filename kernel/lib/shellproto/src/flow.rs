//! Flow control of the server's output (`Request::FlowStart`,
//! `Request::FlowRead`): QEMU's virtconsole drops the bytes its chardev
//! (the supervisor's socket) does not take at once, so the server must never
//! have more in flight than the socket can hold. [`Flow`] is the server's
//! side (how much it may send), [`Confirmer`] the reader's (which totals it
//! confirms). Until a client sends `FlowStart`, output is unlimited
//! (clients that read directly and promptly, like the tests' own).

/// Most unconfirmed bytes in flight: well below a unix socket's send
/// buffer (212,992 bytes by default on Linux), which the 4 KiB writes of
/// the console fill with little overhead.
pub const WINDOW: u32 = 64 * 1024;

/// Where the confirmed stream stands. Positions count the server's output
/// bytes since it was created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flow {
    /// Position of the first byte after the `FlowStarted` reply, from
    /// which the client counts; `None`: flow control is off.
    start: Option<u64>,
    /// Bytes the client confirmed after `start`.
    read: u64,
}

impl Flow {
    /// Flow control from position `start` on (a new `FlowStart` restarts
    /// the count).
    pub fn start(&mut self, start: u64) {
        *self = Flow { start: Some(start), read: 0 };
    }

    /// Off again (a new session).
    pub fn stop(&mut self) {
        *self = Flow::default();
    }

    /// The client has read `read` bytes since the start; totals never go
    /// back (a stale or duplicated confirmation changes nothing).
    pub fn confirm(&mut self, read: u64) {
        self.read = self.read.max(read);
    }

    /// How many of the `unsent` bytes that follow position `sent` may go
    /// out now.
    pub fn sendable(&self, sent: u64, unsent: usize) -> usize {
        let Some(start) = self.start else { return unsent };
        let limit = start.saturating_add(self.read).saturating_add(WINDOW as u64);
        (limit.saturating_sub(sent)).min(unsent as u64) as usize
    }
}

/// Counts from the end of the `FlowStarted` reply; positions are bytes
/// read from the server since the client connected.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Confirmer {
    /// The end of the `FlowStarted` reply, and the server's window.
    start: Option<(u64, u32)>,
    /// The last total confirmed.
    confirmed: u64,
}

impl Confirmer {
    /// The server's `FlowStarted { window }` reply ended at byte `end`.
    pub fn started(&mut self, end: u64, window: u32) {
        *self = Confirmer { start: Some((end, window)), confirmed: 0 };
    }

    /// `total` bytes have been read: the `FlowRead { read }` to send now,
    /// when a quarter window has come in since the last confirmation.
    pub fn read(&mut self, total: u64) -> Option<u64> {
        let (start, window) = self.start?;
        let read = total.saturating_sub(start);
        if read < self.confirmed + (window as u64 / 4).max(1) {
            return None;
        }
        self.confirmed = read;
        Some(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_sends_everything() {
        assert_eq!(Flow::default().sendable(1 << 40, 5 << 20), 5 << 20);
    }

    #[test]
    fn window_counts_from_the_start_and_moves_with_confirmations() {
        let mut f = Flow::default();
        f.start(1000);
        let w = WINDOW as usize;
        // Bytes before the start (the reply itself) still to send: they
        // count against the window too, so the socket never overfills.
        assert_eq!(f.sendable(900, 10 * w), w + 100);
        assert_eq!(f.sendable(1000, 10 * w), w);
        assert_eq!(f.sendable(1000 + w as u64, 10 * w), 0);
        f.confirm(300);
        assert_eq!(f.sendable(1000 + w as u64, 10 * w), 300);
        f.confirm(200);
        assert_eq!(f.sendable(1000 + w as u64, 10 * w), 300, "confirmations never go back");
        assert_eq!(f.sendable(1000, 7), 7, "never more than there is");
        f.stop();
        assert_eq!(f.sendable(1 << 30, 10 * w), 10 * w);
    }

    #[test]
    fn confirms_every_quarter_window_from_the_start() {
        let mut c = Confirmer::default();
        assert_eq!(c.read(1 << 20), None, "nothing before the start");
        c.started(1000, 4096);
        assert_eq!(c.read(1000 + 1023), None);
        assert_eq!(c.read(1000 + 1024), Some(1024));
        assert_eq!(c.read(1000 + 2000), None, "less than a quarter window since");
        assert_eq!(c.read(1000 + 5000), Some(5000));
    }
}
