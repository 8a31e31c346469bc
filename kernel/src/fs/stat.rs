//! How the ramfs's `Metadata` looks to the app: `struct stat` and
//! `struct statx` as Linux fills them for a tmpfs-like filesystem.

use linux_abi::structs::{Stat, Statx, StatxTimestamp, STATX_BASIC_STATS};
use ramfs::Metadata;

pub fn to_stat(m: &Metadata) -> Stat {
    let secs = (m.mtime_ns / 1_000_000_000) as i64;
    let nsec = (m.mtime_ns % 1_000_000_000) as i64;
    Stat {
        st_dev: 1,
        st_ino: m.ino,
        st_nlink: m.nlink as u64,
        st_mode: m.mode,
        st_uid: m.uid,
        st_gid: m.gid,
        st_rdev: m.rdev,
        st_size: m.size as i64,
        st_blksize: 4096,
        st_blocks: m.blocks as i64,
        st_atime: secs,
        st_atime_nsec: nsec,
        st_mtime: secs,
        st_mtime_nsec: nsec,
        st_ctime: secs,
        st_ctime_nsec: nsec,
        ..Default::default()
    }
}

pub fn to_statx(m: &Metadata) -> Statx {
    let ts = StatxTimestamp { tv_sec: (m.mtime_ns / 1_000_000_000) as i64, tv_nsec: (m.mtime_ns % 1_000_000_000) as u32, _reserved: 0 };
    Statx {
        stx_mask: STATX_BASIC_STATS,
        stx_blksize: 4096,
        stx_nlink: m.nlink,
        stx_uid: m.uid,
        stx_gid: m.gid,
        stx_mode: m.mode as u16,
        stx_ino: m.ino,
        stx_size: m.size,
        stx_blocks: m.blocks,
        stx_atime: ts,
        stx_btime: ts,
        stx_ctime: ts,
        stx_mtime: ts,
        stx_rdev_major: (m.rdev >> 8) as u32,
        stx_rdev_minor: (m.rdev & 0xff) as u32,
        stx_dev_major: 0,
        stx_dev_minor: 1,
        ..Default::default()
    }
}
