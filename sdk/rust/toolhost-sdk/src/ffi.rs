//! Small conversions between Rust and the ABI's strings, and panic payloads. Internal.

use std::any::Any;
use std::os::raw::c_char;

use crate::abi::ToolhostStr;

/// Borrows `s` as a `toolhost_str_t`. The result is valid as long as `s` is.
pub(crate) fn to_abi(s: &str) -> ToolhostStr {
    ToolhostStr {
        data: s.as_ptr() as *const c_char,
        size: s.len(),
    }
}

/// The bytes of a `toolhost_str_t` (empty for size 0 or a NULL pointer).
///
/// # Safety
/// `s.data` must point at `s.size` readable bytes that stay valid and unchanged for `'a`, as
/// the ABI promises for every string the host hands out during the call that gave it.
pub(crate) unsafe fn bytes_of<'a>(s: ToolhostStr) -> &'a [u8] {
    if s.size == 0 || s.data.is_null() {
        &[]
    } else {
        // SAFETY: the caller guarantees `data` points at `size` valid bytes for 'a; the
        // check above excludes NULL and zero-sized ranges.
        unsafe { std::slice::from_raw_parts(s.data as *const u8, s.size) }
    }
}

/// The text of a `toolhost_str_t` that the ABI promises to be UTF-8, or `None` if it is not.
///
/// # Safety
/// As for [`bytes_of`].
pub(crate) unsafe fn str_of<'a>(s: ToolhostStr) -> Option<&'a str> {
    // SAFETY: forwarded to the caller's guarantee.
    std::str::from_utf8(unsafe { bytes_of(s) }).ok()
}

/// The message of a panic payload (`panic!("...")` gives a `&str` or a `String`).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic whose payload is not a string".to_owned()
    }
}

/// `offset_of!(Type, field)`: the byte offset of `field` in the `#[repr(C)]` struct `Type`.
/// Stable Rust 1.63 has no `core::mem::offset_of!`; this computes it from a field address,
/// without reading or creating a reference to uninitialized memory.
#[macro_export]
macro_rules! abi_offset_of {
    ($ty:ty, $field:ident) => {{
        let slot = ::std::mem::MaybeUninit::<$ty>::uninit();
        let base = slot.as_ptr();
        // SAFETY: `addr_of!` takes the field's address without reading it or creating a
        // reference, which is allowed on the uninitialized memory `base` points to.
        let field = unsafe { ::std::ptr::addr_of!((*base).$field) };
        (field as *const u8 as usize) - (base as *const u8 as usize)
    }};
}

/// `abi_field_end!(Type, field)`: the offset just past `field`, i.e. the smallest
/// `struct_size` that covers it.
#[macro_export]
macro_rules! abi_field_end {
    ($ty:ty, $field:ident) => {{
        let slot = ::std::mem::MaybeUninit::<$ty>::uninit();
        let base = slot.as_ptr();
        // SAFETY: as in `abi_offset_of!`: an address, no read, no reference.
        let field = unsafe { ::std::ptr::addr_of!((*base).$field) };
        fn size_of_pointee<T>(_: *const T) -> usize {
            ::std::mem::size_of::<T>()
        }
        (field as *const u8 as usize) - (base as *const u8 as usize) + size_of_pointee(field)
    }};
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::ToolhostCall;

    #[test]
    fn strings_cross_both_ways() {
        let s = "héllo";
        let raw = to_abi(s);
        assert_eq!(raw.size, 6);
        // SAFETY: `raw` borrows `s`, which outlives the use.
        assert_eq!(unsafe { str_of(raw) }, Some(s));
        let empty = ToolhostStr {
            data: std::ptr::null(),
            size: 0,
        };
        // SAFETY: a NULL, empty range is allowed by the ABI and never dereferenced.
        assert_eq!(unsafe { str_of(empty) }, Some(""));
        let bad = [0xffu8, 0xfe];
        let raw = ToolhostStr {
            data: bad.as_ptr() as *const c_char,
            size: 2,
        };
        // SAFETY: `raw` borrows `bad`, which outlives the use.
        assert_eq!(unsafe { str_of(raw) }, None);
    }

    #[test]
    fn offsets_are_computed_from_field_addresses() {
        assert_eq!(abi_offset_of!(ToolhostStr, data), 0);
        assert_eq!(abi_offset_of!(ToolhostStr, size), std::mem::size_of::<usize>());
        assert_eq!(abi_field_end!(ToolhostStr, size), std::mem::size_of::<ToolhostStr>());
        assert!(abi_offset_of!(ToolhostCall, attempt) < abi_offset_of!(ToolhostCall, is_cancelled));
    }

    #[test]
    fn panic_messages_are_read_from_str_and_string_payloads() {
        let p = std::panic::catch_unwind(|| panic!("static")).unwrap_err();
        assert_eq!(panic_message(&*p), "static");
        let p = std::panic::catch_unwind(|| panic!("formatted {}", 42)).unwrap_err();
        assert_eq!(panic_message(&*p), "formatted 42");
        let p = std::panic::catch_unwind(|| std::panic::panic_any(7u8)).unwrap_err();
        assert_eq!(panic_message(&*p), "a panic whose payload is not a string");
    }
}
