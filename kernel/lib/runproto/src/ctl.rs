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
}

impl fmt::Display for CtlEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CtlEvent::Exit(s) => write!(f, "exit {s}\n"),
            CtlEvent::Panic => f.write_str("panic\n"),
        }
    }
}

impl CtlEvent {
    /// Finds the last event in the control channel's text, ignoring lines it
    /// does not know (they may come from a newer kernel).
    pub fn parse_last(text: &str) -> Option<CtlEvent> {
        text.lines().rev().find_map(|line| {
            let line = line.trim();
            if line == "panic" {
                Some(CtlEvent::Panic)
            } else {
                line.strip_prefix("exit ")?.parse().ok().map(CtlEvent::Exit)
            }
        })
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
        assert_eq!(CtlEvent::parse_last(""), None);
    }
}
