//! The in-kernel debug shell (placeholder: served over a virtio console port in a later issue).
#![cfg_attr(not(test), no_std)]
