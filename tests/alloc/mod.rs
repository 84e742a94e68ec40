//! The counting global allocator shared by the "allocates nothing" tests.
//!
//! A global allocator is per binary, so each test file installs it itself:
//! `#[global_allocator] static GLOBAL: alloc::Counting = alloc::Counting;`
#![allow(dead_code)] // each test binary uses part of this module

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting every allocation and reallocation of the calling thread.
pub struct Counting;

thread_local! {
    // Per thread, so the test harness's own threads do not disturb the count.
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: the allocator may run while thread-locals are being torn down.
    let _ = ALLOCS.try_with(|c| c.set(c.get().wrapping_add(1)));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Allocations made by this thread so far (only meaningful with `Counting` installed).
pub fn allocations() -> usize {
    ALLOCS.with(Cell::get)
}

/// Runs `f` and returns how many allocations it made on this thread, with its result.
pub fn allocations_during<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let before = allocations();
    let r = f();
    (allocations().wrapping_sub(before), r)
}

// Runs in every binary that includes this module: proves that binary installed `Counting`
// (a counter that never counts would make its "allocates nothing" tests vacuous).
#[test]
fn counting_allocator_sees_allocations() {
    let (n, _) = allocations_during(|| std::hint::black_box(Vec::<u8>::with_capacity(64)));
    assert_eq!(n, 1);
    let (n, v) = allocations_during(|| std::hint::black_box(vec![0u8; 16]));
    assert_eq!(n, 1);
    let (n, _) = allocations_during(|| drop(v));
    assert_eq!(n, 0, "a free is not an allocation");
}
