//! Windows-only calls.

/// Closes the console window that Windows opened for this process when it was started from
/// Explorer (a console nobody else shares), so the app shows only its window. Started from a
/// terminal, the console is the terminal's and is kept, so `shmimage put` still prints there.
#[cfg(feature = "gui")]
pub fn hide_own_console() {
    use windows_sys::Win32::System::Console::{FreeConsole, GetConsoleProcessList};
    let mut pids = [0u32; 2];
    // SAFETY: the buffer is valid for the two entries we pass as its length.
    let sharing = unsafe { GetConsoleProcessList(pids.as_mut_ptr(), pids.len() as u32) };
    if sharing == 1 {
        // SAFETY: FreeConsole has no preconditions; failure only means there was no console.
        unsafe { FreeConsole() };
    }
}
