//! The error a handler returns: the errno the app sees and, for the debug
//! log, why (as Asterinas' `Error { errno, msg }`). `?` on any
//! `Result<_, Errno>` converts with an empty reason; [`fail!`] gives one.
//!
//! An `Error` is one pointer to a static (errno, reason) pair, so that
//! `Result<usize, Error>` returns in two registers: the syscall fast path
//! (the getppid benchmark) counts every instruction.

use linux_abi::Errno;

/// An errno and the reason it was returned.
#[derive(Debug, PartialEq, Eq)]
pub struct ErrorInfo {
    pub errno: Errno,
    pub msg: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error(&'static ErrorInfo);

pub type SysResult = Result<usize, Error>;

const _: () = assert!(core::mem::size_of::<SysResult>() == 16, "SysResult must fit in rax:rdx");

impl Error {
    /// `info` is a constant: `fail!` passes a promoted one.
    pub const fn new(info: &'static ErrorInfo) -> Error {
        Error(info)
    }

    pub const fn errno(self) -> Errno {
        self.0.errno
    }

    /// Why, in words, for `ushell.log=debug`; empty when the errno says it all.
    pub const fn msg(self) -> &'static str {
        self.0.msg
    }
}

/// One reason-less entry per errno value, for `From<Errno>`.
static PLAIN: [ErrorInfo; Errno::MAX as usize + 1] = {
    let mut t = [const { ErrorInfo { errno: Errno::EPERM, msg: "" } }; Errno::MAX as usize + 1];
    let mut i = 0;
    while i < Errno::ALL.len() {
        let e = Errno::ALL[i];
        t[e as usize] = ErrorInfo { errno: e, msg: "" };
        i += 1;
    }
    t
};

impl From<Errno> for Error {
    fn from(errno: Errno) -> Error {
        Error(&PLAIN[errno as usize])
    }
}

/// `return Err(..)` from a handler with a reason for the log:
/// `fail!(EINVAL, "why")`, or `fail!(EINVAL)` where the errno says it all.
macro_rules! fail {
    ($errno:ident) => {
        return Err($crate::syscall::Error::from(linux_abi::Errno::$errno))
    };
    ($errno:ident, $msg:literal) => {
        return Err($crate::syscall::Error::new(&$crate::syscall::ErrorInfo { errno: linux_abi::Errno::$errno, msg: $msg }))
    };
}
pub(crate) use fail;
