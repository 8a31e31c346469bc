//! Locks that are safe against interrupts: interrupts stay off while the
//! lock is held (as hermit's `InterruptTicketMutex`), so an interrupt
//! handler that takes the same lock can never spin on its own CPU.

use core::ops::{Deref, DerefMut};

pub struct IrqMutex<T> {
    inner: spin::Mutex<T>,
}

pub struct IrqGuard<'a, T> {
    guard: Option<spin::MutexGuard<'a, T>>,
    irq_was_on: bool,
}

impl<T> IrqMutex<T> {
    pub const fn new(v: T) -> Self {
        IrqMutex { inner: spin::Mutex::new(v) }
    }

    pub fn lock(&self) -> IrqGuard<'_, T> {
        let irq_was_on = crate::arch::cpu::irq_save();
        IrqGuard { guard: Some(self.inner.lock()), irq_was_on }
    }
}

impl<T> Deref for IrqGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard.as_ref().unwrap_or_else(|| unreachable!("held until drop"))
    }
}

impl<T> DerefMut for IrqGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_mut().unwrap_or_else(|| unreachable!("held until drop"))
    }
}

impl<T> Drop for IrqGuard<'_, T> {
    fn drop(&mut self) {
        // Unlock first, then let interrupts in.
        drop(self.guard.take());
        crate::arch::cpu::irq_restore(self.irq_was_on);
    }
}
