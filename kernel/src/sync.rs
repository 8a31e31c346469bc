//! Locks that are safe against interrupts: interrupts stay off while the
//! lock is held (as hermit's `InterruptTicketMutex`), so an interrupt
//! handler that takes the same lock can never spin on its own CPU.

use core::ops::{Deref, DerefMut};

pub struct IrqMutex<T> {
    inner: spin::Mutex<T>,
}

/// Fields drop in order: the lock is released, then interrupts come back.
pub struct IrqGuard<'a, T> {
    guard: spin::MutexGuard<'a, T>,
    _irq: crate::arch::cpu::IrqOff,
}

impl<T> IrqMutex<T> {
    pub const fn new(v: T) -> Self {
        IrqMutex { inner: spin::Mutex::new(v) }
    }

    pub fn lock(&self) -> IrqGuard<'_, T> {
        let irq = crate::arch::cpu::irq_off();
        IrqGuard { guard: self.inner.lock(), _irq: irq }
    }
}

impl<T> Deref for IrqGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for IrqGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}
