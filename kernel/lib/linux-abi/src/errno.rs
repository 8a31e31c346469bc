//! Linux errno values (asm-generic), as one enum: handlers return
//! `Result<usize, Errno>` and the dispatcher turns an error into `-errno`.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
#[allow(clippy::upper_case_acronyms)]
pub enum Errno {
    /// Operation not permitted
    EPERM = 1,
    /// No such file or directory
    ENOENT = 2,
    /// No such process
    ESRCH = 3,
    /// Interrupted system call
    EINTR = 4,
    /// I/O error
    EIO = 5,
    /// No such device or address
    ENXIO = 6,
    /// Argument list too long
    E2BIG = 7,
    /// Exec format error
    ENOEXEC = 8,
    /// Bad file number
    EBADF = 9,
    /// No child processes
    ECHILD = 10,
    /// Try again
    EAGAIN = 11,
    /// Out of memory
    ENOMEM = 12,
    /// Permission denied
    EACCES = 13,
    /// Bad address
    EFAULT = 14,
    /// Block device required
    ENOTBLK = 15,
    /// Device or resource busy
    EBUSY = 16,
    /// File exists
    EEXIST = 17,
    /// Cross-device link
    EXDEV = 18,
    /// No such device
    ENODEV = 19,
    /// Not a directory
    ENOTDIR = 20,
    /// Is a directory
    EISDIR = 21,
    /// Invalid argument
    EINVAL = 22,
    /// File table overflow
    ENFILE = 23,
    /// Too many open files
    EMFILE = 24,
    /// Not a typewriter
    ENOTTY = 25,
    /// Text file busy
    ETXTBSY = 26,
    /// File too large
    EFBIG = 27,
    /// No space left on device
    ENOSPC = 28,
    /// Illegal seek
    ESPIPE = 29,
    /// Read-only file system
    EROFS = 30,
    /// Too many links
    EMLINK = 31,
    /// Broken pipe
    EPIPE = 32,
    /// Math argument out of domain of func
    EDOM = 33,
    /// Math result not representable
    ERANGE = 34,
    /// Resource deadlock would occur
    EDEADLK = 35,
    /// File name too long
    ENAMETOOLONG = 36,
    /// No record locks available
    ENOLCK = 37,
    /// Invalid system call number
    ENOSYS = 38,
    /// Directory not empty
    ENOTEMPTY = 39,
    /// Too many symbolic links encountered
    ELOOP = 40,
    /// No message of desired type
    ENOMSG = 42,
    /// Identifier removed
    EIDRM = 43,
    /// Channel number out of range
    ECHRNG = 44,
    /// Level 2 not synchronized
    EL2NSYNC = 45,
    /// Level 3 halted
    EL3HLT = 46,
    /// Level 3 reset
    EL3RST = 47,
    /// Link number out of range
    ELNRNG = 48,
    /// Protocol driver not attached
    EUNATCH = 49,
    /// No CSI structure available
    ENOCSI = 50,
    /// Level 2 halted
    EL2HLT = 51,
    /// Invalid exchange
    EBADE = 52,
    /// Invalid request descriptor
    EBADR = 53,
    /// Exchange full
    EXFULL = 54,
    /// No anode
    ENOANO = 55,
    /// Invalid request code
    EBADRQC = 56,
    /// Invalid slot
    EBADSLT = 57,
    /// Bad font file format
    EBFONT = 59,
    /// Device not a stream
    ENOSTR = 60,
    /// No data available
    ENODATA = 61,
    /// Timer expired
    ETIME = 62,
    /// Out of streams resources
    ENOSR = 63,
    /// Machine is not on the network
    ENONET = 64,
    /// Package not installed
    ENOPKG = 65,
    /// Object is remote
    EREMOTE = 66,
    /// Link has been severed
    ENOLINK = 67,
    /// Advertise error
    EADV = 68,
    /// Srmount error
    ESRMNT = 69,
    /// Communication error on send
    ECOMM = 70,
    /// Protocol error
    EPROTO = 71,
    /// Multihop attempted
    EMULTIHOP = 72,
    /// RFS specific error
    EDOTDOT = 73,
    /// Not a data message
    EBADMSG = 74,
    /// Value too large for defined data type
    EOVERFLOW = 75,
    /// Name not unique on network
    ENOTUNIQ = 76,
    /// File descriptor in bad state
    EBADFD = 77,
    /// Remote address changed
    EREMCHG = 78,
    /// Can not access a needed shared library
    ELIBACC = 79,
    /// Accessing a corrupted shared library
    ELIBBAD = 80,
    /// .lib section in a.out corrupted
    ELIBSCN = 81,
    /// Attempting to link in too many shared libraries
    ELIBMAX = 82,
    /// Cannot exec a shared library directly
    ELIBEXEC = 83,
    /// Illegal byte sequence
    EILSEQ = 84,
    /// Interrupted system call should be restarted
    ERESTART = 85,
    /// Streams pipe error
    ESTRPIPE = 86,
    /// Too many users
    EUSERS = 87,
    /// Socket operation on non-socket
    ENOTSOCK = 88,
    /// Destination address required
    EDESTADDRREQ = 89,
    /// Message too long
    EMSGSIZE = 90,
    /// Protocol wrong type for socket
    EPROTOTYPE = 91,
    /// Protocol not available
    ENOPROTOOPT = 92,
    /// Protocol not supported
    EPROTONOSUPPORT = 93,
    /// Socket type not supported
    ESOCKTNOSUPPORT = 94,
    /// Operation not supported on transport endpoint
    EOPNOTSUPP = 95,
    /// Protocol family not supported
    EPFNOSUPPORT = 96,
    /// Address family not supported by protocol
    EAFNOSUPPORT = 97,
    /// Address already in use
    EADDRINUSE = 98,
    /// Cannot assign requested address
    EADDRNOTAVAIL = 99,
    /// Network is down
    ENETDOWN = 100,
    /// Network is unreachable
    ENETUNREACH = 101,
    /// Network dropped connection because of reset
    ENETRESET = 102,
    /// Software caused connection abort
    ECONNABORTED = 103,
    /// Connection reset by peer
    ECONNRESET = 104,
    /// No buffer space available
    ENOBUFS = 105,
    /// Transport endpoint is already connected
    EISCONN = 106,
    /// Transport endpoint is not connected
    ENOTCONN = 107,
    /// Cannot send after transport endpoint shutdown
    ESHUTDOWN = 108,
    /// Too many references: cannot splice
    ETOOMANYREFS = 109,
    /// Connection timed out
    ETIMEDOUT = 110,
    /// Connection refused
    ECONNREFUSED = 111,
    /// Host is down
    EHOSTDOWN = 112,
    /// No route to host
    EHOSTUNREACH = 113,
    /// Operation already in progress
    EALREADY = 114,
    /// Operation now in progress
    EINPROGRESS = 115,
    /// Stale file handle
    ESTALE = 116,
    /// Structure needs cleaning
    EUCLEAN = 117,
    /// Not a XENIX named type file
    ENOTNAM = 118,
    /// No XENIX semaphores available
    ENAVAIL = 119,
    /// Is a named type file
    EISNAM = 120,
    /// Remote I/O error
    EREMOTEIO = 121,
    /// Quota exceeded
    EDQUOT = 122,
    /// No medium found
    ENOMEDIUM = 123,
    /// Wrong medium type
    EMEDIUMTYPE = 124,
    /// Operation Canceled
    ECANCELED = 125,
    /// Required key not available
    ENOKEY = 126,
    /// Key has expired
    EKEYEXPIRED = 127,
    /// Key has been revoked
    EKEYREVOKED = 128,
    /// Key was rejected by service
    EKEYREJECTED = 129,
    /// Owner died
    EOWNERDEAD = 130,
    /// State not recoverable
    ENOTRECOVERABLE = 131,
    /// Operation not possible due to RF-kill
    ERFKILL = 132,
    /// Memory page has hardware error
    EHWPOISON = 133,
}

impl Errno {
    /// Every errno, in increasing order of value.
    pub const ALL: [Errno; 131] = [
        Errno::EPERM,
        Errno::ENOENT,
        Errno::ESRCH,
        Errno::EINTR,
        Errno::EIO,
        Errno::ENXIO,
        Errno::E2BIG,
        Errno::ENOEXEC,
        Errno::EBADF,
        Errno::ECHILD,
        Errno::EAGAIN,
        Errno::ENOMEM,
        Errno::EACCES,
        Errno::EFAULT,
        Errno::ENOTBLK,
        Errno::EBUSY,
        Errno::EEXIST,
        Errno::EXDEV,
        Errno::ENODEV,
        Errno::ENOTDIR,
        Errno::EISDIR,
        Errno::EINVAL,
        Errno::ENFILE,
        Errno::EMFILE,
        Errno::ENOTTY,
        Errno::ETXTBSY,
        Errno::EFBIG,
        Errno::ENOSPC,
        Errno::ESPIPE,
        Errno::EROFS,
        Errno::EMLINK,
        Errno::EPIPE,
        Errno::EDOM,
        Errno::ERANGE,
        Errno::EDEADLK,
        Errno::ENAMETOOLONG,
        Errno::ENOLCK,
        Errno::ENOSYS,
        Errno::ENOTEMPTY,
        Errno::ELOOP,
        Errno::ENOMSG,
        Errno::EIDRM,
        Errno::ECHRNG,
        Errno::EL2NSYNC,
        Errno::EL3HLT,
        Errno::EL3RST,
        Errno::ELNRNG,
        Errno::EUNATCH,
        Errno::ENOCSI,
        Errno::EL2HLT,
        Errno::EBADE,
        Errno::EBADR,
        Errno::EXFULL,
        Errno::ENOANO,
        Errno::EBADRQC,
        Errno::EBADSLT,
        Errno::EBFONT,
        Errno::ENOSTR,
        Errno::ENODATA,
        Errno::ETIME,
        Errno::ENOSR,
        Errno::ENONET,
        Errno::ENOPKG,
        Errno::EREMOTE,
        Errno::ENOLINK,
        Errno::EADV,
        Errno::ESRMNT,
        Errno::ECOMM,
        Errno::EPROTO,
        Errno::EMULTIHOP,
        Errno::EDOTDOT,
        Errno::EBADMSG,
        Errno::EOVERFLOW,
        Errno::ENOTUNIQ,
        Errno::EBADFD,
        Errno::EREMCHG,
        Errno::ELIBACC,
        Errno::ELIBBAD,
        Errno::ELIBSCN,
        Errno::ELIBMAX,
        Errno::ELIBEXEC,
        Errno::EILSEQ,
        Errno::ERESTART,
        Errno::ESTRPIPE,
        Errno::EUSERS,
        Errno::ENOTSOCK,
        Errno::EDESTADDRREQ,
        Errno::EMSGSIZE,
        Errno::EPROTOTYPE,
        Errno::ENOPROTOOPT,
        Errno::EPROTONOSUPPORT,
        Errno::ESOCKTNOSUPPORT,
        Errno::EOPNOTSUPP,
        Errno::EPFNOSUPPORT,
        Errno::EAFNOSUPPORT,
        Errno::EADDRINUSE,
        Errno::EADDRNOTAVAIL,
        Errno::ENETDOWN,
        Errno::ENETUNREACH,
        Errno::ENETRESET,
        Errno::ECONNABORTED,
        Errno::ECONNRESET,
        Errno::ENOBUFS,
        Errno::EISCONN,
        Errno::ENOTCONN,
        Errno::ESHUTDOWN,
        Errno::ETOOMANYREFS,
        Errno::ETIMEDOUT,
        Errno::ECONNREFUSED,
        Errno::EHOSTDOWN,
        Errno::EHOSTUNREACH,
        Errno::EALREADY,
        Errno::EINPROGRESS,
        Errno::ESTALE,
        Errno::EUCLEAN,
        Errno::ENOTNAM,
        Errno::ENAVAIL,
        Errno::EISNAM,
        Errno::EREMOTEIO,
        Errno::EDQUOT,
        Errno::ENOMEDIUM,
        Errno::EMEDIUMTYPE,
        Errno::ECANCELED,
        Errno::ENOKEY,
        Errno::EKEYEXPIRED,
        Errno::EKEYREVOKED,
        Errno::EKEYREJECTED,
        Errno::EOWNERDEAD,
        Errno::ENOTRECOVERABLE,
        Errno::ERFKILL,
        Errno::EHWPOISON,
    ];

    /// The largest value.
    pub const MAX: i32 = 133;

    /// The value a syscall returns in rax: `-errno` as an unsigned word.
    pub const fn as_ret(self) -> usize {
        (-(self as i32 as isize)) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::Errno;

    #[test]
    fn all_is_every_variant_in_order() {
        assert!(Errno::ALL.windows(2).all(|w| (w[0] as i32) < (w[1] as i32)));
        assert_eq!(Errno::ALL[0] as i32, 1);
        assert_eq!(*Errno::ALL.last().unwrap() as i32, Errno::MAX);
        assert!(Errno::ALL.contains(&Errno::ENOSYS) && Errno::ALL.contains(&Errno::EHWPOISON));
    }
}
