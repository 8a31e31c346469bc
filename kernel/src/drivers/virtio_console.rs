//! The virtio console (`-device virtio-serial-device -device
//! virtconsole,...`), port 0 only (no MULTIPORT), over `virtio-drivers`'
//! MMIO transport and virtqueues.
//!
//! The crate's own `VirtIOConsole` keeps one 4 KiB receive buffer and
//! spins until the device has taken each write; this driver keeps several
//! receive buffers posted and never waits for a write: bytes are copied
//! into transmit buffers the device returns in its own time, so a host that
//! stops reading cannot wedge the kernel. (QEMU drops what a virtconsole
//! cannot write to its chardev, e.g. while no client is connected; it does
//! not hold buffers back.)

use alloc::boxed::Box;
use alloc::vec::Vec;
use virtio_drivers::device::common::Feature;
use virtio_drivers::queue::VirtQueue;
use virtio_drivers::transport::mmio::MmioTransport;
use virtio_drivers::transport::{InterruptStatus, Transport};

use super::virtio::KernelHal;

const RECEIVEQ: u16 = 0;
const TRANSMITQ: u16 = 1;
/// Descriptors per queue; each buffer takes one.
const QUEUE_SIZE: usize = 16;
const BUF_SIZE: usize = 4096;
/// Receive buffers kept posted: what the device can deliver between two
/// polls.
const RX_BUFS: usize = 16;
/// Transmit buffers: what can be in flight at once.
const TX_BUFS: usize = 16;

type Queue = VirtQueue<KernelHal, QUEUE_SIZE>;

struct Buf {
    data: Box<[u8; BUF_SIZE]>,
    /// The queue's token while the device owns the buffer.
    token: Option<u16>,
    /// Bytes handed to the device (transmit buffers).
    len: usize,
}

impl Buf {
    fn new() -> Buf {
        Buf { data: Box::new([0; BUF_SIZE]), token: None, len: 0 }
    }
}

pub struct Console {
    transport: MmioTransport<'static>,
    rx: Queue,
    tx: Queue,
    rx_bufs: Vec<Buf>,
    tx_bufs: Vec<Buf>,
}

#[derive(Debug)]
pub enum Error {
    Virtio(virtio_drivers::Error),
    /// The device gave back a token it was never given.
    BadToken(u16),
}

impl From<virtio_drivers::Error> for Error {
    fn from(e: virtio_drivers::Error) -> Error {
        Error::Virtio(e)
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Virtio(e) => write!(f, "{e}"),
            Error::BadToken(t) => write!(f, "the device returned unknown buffer {t}"),
        }
    }
}

impl Console {
    /// Initializes the device behind `transport` and posts the receive
    /// buffers.
    pub fn new(mut transport: MmioTransport<'static>) -> Result<Console, Error> {
        // Port 0 only: no MULTIPORT, so QEMU counts the port as open from
        // DRIVER_OK on. VERSION_1 when the transport is modern.
        transport.begin_init(Feature::VERSION_1);
        let rx = Queue::new(&mut transport, RECEIVEQ, false, false)?;
        let mut tx = Queue::new(&mut transport, TRANSMITQ, false, false)?;
        // Finished writes are reaped when the next write comes; they need
        // no interrupt.
        tx.set_dev_notify(false);
        transport.finish_init();
        let mut c = Console {
            transport,
            rx,
            tx,
            rx_bufs: (0..RX_BUFS).map(|_| Buf::new()).collect(),
            tx_bufs: (0..TX_BUFS).map(|_| Buf::new()).collect(),
        };
        for i in 0..RX_BUFS {
            c.post_rx(i)?;
        }
        c.transport.notify(RECEIVEQ);
        Ok(c)
    }

    fn post_rx(&mut self, i: usize) -> Result<(), Error> {
        let b = &mut self.rx_bufs[i];
        // SAFETY: the buffer is heap memory owned by `self`, not touched
        // until the device returns its token (recv pops it first), and it
        // outlives the queue (both are fields; the device is reset when the
        // transport drops).
        b.token = Some(unsafe { self.rx.add(&[], &mut [b.data.as_mut_slice()]) }?);
        Ok(())
    }

    /// Acknowledges the device's interrupt; true if a queue has news.
    pub fn ack_interrupt(&mut self) -> bool {
        self.transport.ack_interrupt().contains(InterruptStatus::QUEUE_INTERRUPT)
    }

    /// Appends every byte received so far to `out`, in order, and gives the
    /// buffers back to the device.
    pub fn recv(&mut self, out: &mut Vec<u8>) -> Result<usize, Error> {
        let start = out.len();
        let mut reposted = false;
        while let Some(token) = self.rx.peek_used() {
            let i = self.rx_bufs.iter().position(|b| b.token == Some(token)).ok_or(Error::BadToken(token))?;
            let b = &mut self.rx_bufs[i];
            // SAFETY: the same buffer `post_rx` added with this token.
            let len = unsafe { self.rx.pop_used(token, &[], &mut [b.data.as_mut_slice()]) }?;
            b.token = None;
            // The device's length is not trusted beyond the buffer.
            out.extend_from_slice(&b.data[..(len as usize).min(BUF_SIZE)]);
            self.post_rx(i)?;
            reposted = true;
        }
        if reposted && self.rx.should_notify() {
            self.transport.notify(RECEIVEQ);
        }
        Ok(out.len() - start)
    }

    /// Returns the transmit buffers the device has finished with.
    fn reap_tx(&mut self) -> Result<(), Error> {
        while let Some(token) = self.tx.peek_used() {
            let i = self.tx_bufs.iter().position(|b| b.token == Some(token)).ok_or(Error::BadToken(token))?;
            let b = &mut self.tx_bufs[i];
            // SAFETY: the same buffer `send` added with this token (as an
            // input, read-only for the device).
            unsafe { self.tx.pop_used(token, &[&b.data[..b.len]], &mut []) }?;
            b.token = None;
        }
        Ok(())
    }

    /// Queues as much of `data` as free transmit buffers hold and returns
    /// how many bytes were taken (0 while the device still holds them all).
    pub fn send(&mut self, data: &[u8]) -> Result<usize, Error> {
        self.reap_tx()?;
        let mut taken = 0;
        for i in 0..TX_BUFS {
            if taken == data.len() {
                break;
            }
            if self.tx_bufs[i].token.is_some() {
                continue;
            }
            let n = (data.len() - taken).min(BUF_SIZE);
            let b = &mut self.tx_bufs[i];
            b.data[..n].copy_from_slice(&data[taken..taken + n]);
            // SAFETY: as in post_rx; the device only reads the first n
            // bytes, and the buffer is untouched until reap_tx pops it.
            b.token = Some(unsafe { self.tx.add(&[&b.data[..n]], &mut []) }?);
            b.len = n;
            taken += n;
        }
        if taken > 0 && self.tx.should_notify() {
            self.transport.notify(TRANSMITQ);
        }
        Ok(taken)
    }
}
