//! Control events the kernel sends to the host on the debugcon port, one text
//! line each. QEMU's own exit code keeps only 7 bits of a status, so the exact
//! status travels here.

use core::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtlEvent {
    /// The app ended; the status is what a Linux shell would show (128+signal
    /// for a fatal signal).
    Exit(u8),
    /// The kernel itself failed.
    Panic,
    /// The kernel's COM1 is set up: the host may start sending stdin (bytes
    /// sent earlier could be lost when the UART's FIFO is switched on).
    Ready,
}

impl fmt::Display for CtlEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CtlEvent::Exit(s) => writeln!(f, "exit {s}"),
            CtlEvent::Panic => f.write_str("panic\n"),
            CtlEvent::Ready => f.write_str("ready\n"),
        }
    }
}

impl CtlEvent {
    /// Parses one control line.
    pub fn parse(line: &str) -> Option<CtlEvent> {
        match line.trim() {
            "panic" => Some(CtlEvent::Panic),
            "ready" => Some(CtlEvent::Ready),
            l => l.strip_prefix("exit ")?.parse().ok().map(CtlEvent::Exit),
        }
    }

    /// Whether the run ends with this event.
    pub fn is_final(self) -> bool {
        !matches!(self, CtlEvent::Ready)
    }

    /// Finds how the run ended: the last final event in the control
    /// channel's text, ignoring lines it does not know (they may come from a
    /// newer kernel).
    pub fn parse_last(text: &str) -> Option<CtlEvent> {
        text.lines().rev().filter_map(CtlEvent::parse).find(|e| e.is_final())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_roundtrip() {
        for ev in [CtlEvent::Exit(0), CtlEvent::Exit(139), CtlEvent::Exit(255), CtlEvent::Panic] {
            let s = format!("boot 1\n{ev}");
            assert_eq!(CtlEvent::parse_last(&s), Some(ev));
        }
        assert_eq!(CtlEvent::parse_last("exit 300\n"), None);
        assert_eq!(CtlEvent::parse_last("ready\n"), None);
        assert_eq!(CtlEvent::parse_last("ready\nexit 3\n"), Some(CtlEvent::Exit(3)));
        assert_eq!(CtlEvent::parse("ready"), Some(CtlEvent::Ready));
        assert_eq!(CtlEvent::parse_last(""), None);
    }
}
