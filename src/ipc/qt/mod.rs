//! Qt's own IPC objects on Linux, named and used exactly as Qt names and uses them, behind the
//! core's [`Segment`](crate::ipc::segment::Segment) interface: Qt 5's System V segment and semaphore
//! ([`sysv`]), and Qt 6.6+'s POSIX shared memory and named semaphore ([`posix`]). The protocols
//! that speak Qt's format over them are in `crate::protocol`.

pub mod posix;
pub mod sysv;

/// What a live Qt segment must start with for a new publish to replace it: an image as Qt
/// writes one. The protocol passes the codec's test in, so this layer reads no image format.
#[derive(Debug, Clone, Copy)]
pub struct Replaceable {
    /// How many bytes the test looks at.
    pub start_len: usize,
    pub starts_as_expected: fn(&[u8]) -> bool,
}

impl Replaceable {
    /// Replaces nothing: without a test, a live segment is never taken for ours.
    pub const NOTHING: Self = Self {
        start_len: 0,
        starts_as_expected: |_| false,
    };

    fn accepts(&self, start: &[u8]) -> bool {
        self.start_len > 0 && start.len() == self.start_len && (self.starts_as_expected)(start)
    }
}
