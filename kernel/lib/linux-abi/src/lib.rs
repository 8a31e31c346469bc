//! The Linux x86_64 user ABI as plain data: syscall numbers and names, errno
//! values, flag bits and the structures syscalls copy to user memory. Pure and
//! host-testable; the kernel's syscall handlers build on it.
#![cfg_attr(not(test), no_std)]

pub mod auxv;
pub mod decl;
pub mod errno;
pub mod flags;
pub mod signal;
pub mod structs;
pub mod sysno;

pub use zerocopy;

pub use errno::Errno;

/// The name of syscall `nr`, if it is a known x86_64 syscall. A `const fn`, so
/// declarations (see [`decl`]) take their names from the generated table.
pub const fn syscall_name(nr: usize) -> Option<&'static str> {
    let t = sysno::SYSCALLS;
    let (mut lo, mut hi) = (0, t.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if t[mid].0 == nr {
            return Some(t[mid].1);
        } else if t[mid].0 < nr {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(syscall_name(0), Some("read"));
        assert_eq!(syscall_name(39), Some("getpid"));
        assert_eq!(syscall_name(163), Some("acct"));
        assert_eq!(syscall_name(999), None);
        assert_eq!(syscall_name(450), Some("set_mempolicy_home_node"));
        assert_eq!(syscall_name(335), None);
        assert!(sysno::SYSCALLS.windows(2).all(|w| w[0].0 < w[1].0));
        for &(n, name) in sysno::SYSCALLS {
            assert_eq!(syscall_name(n), Some(name));
        }
        assert_eq!(sysno::nr::READ, 0);
        assert_eq!(sysno::nr::EXIT_GROUP, 231);
    }

    #[test]
    fn errno_values() {
        assert_eq!(Errno::ENOENT as i32, 2);
        assert_eq!(Errno::ENOSYS as i32, 38);
        assert_eq!(Errno::ENOTTY.as_ret(), (-25isize) as usize);
    }
}
