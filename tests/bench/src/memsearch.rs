//! The smallest guest memory with which a run still succeeds, by binary
//! search over MiB (assumes more memory never hurts).

/// Smallest `n` in `lo..=hi` with `ok(n)`, or `None` if even `hi` fails.
/// Probes `hi` first, then about log2(hi - lo) more values.
pub fn smallest(lo: u32, hi: u32, mut ok: impl FnMut(u32) -> bool) -> Option<u32> {
    if lo > hi || !ok(hi) {
        return None;
    }
    // Invariant: ok(good), and every value below `low` failed (or is < lo).
    let (mut low, mut good) = (lo, hi);
    while low < good {
        let mid = low + (good - low) / 2;
        if ok(mid) {
            good = mid;
        } else {
            low = mid + 1;
        }
    }
    Some(good)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_threshold() {
        for t in 1..=40 {
            let mut probes = 0;
            assert_eq!(smallest(1, 40, |n| { probes += 1; n >= t }), Some(t), "threshold {t}");
            assert!(probes <= 8, "threshold {t}: {probes} probes");
        }
    }

    #[test]
    fn nothing_works_or_everything_works() {
        assert_eq!(smallest(1, 64, |_| false), None);
        assert_eq!(smallest(1, 64, |_| true), Some(1));
        assert_eq!(smallest(5, 5, |_| true), Some(5));
        assert_eq!(smallest(6, 5, |_| true), None);
    }
}
