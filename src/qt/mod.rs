//! Qt's own IPC objects on Linux, named and used exactly as Qt names and uses them, behind the
//! core's [`Segment`](crate::shm::Segment) interface: Qt 5's System V segment and semaphore
//! ([`sysv`]), and Qt 6.6+'s POSIX shared memory and named semaphore ([`posix`]). The protocols
//! that speak Qt's format over them are in `crate::share`.

pub mod posix;
pub mod sysv;
