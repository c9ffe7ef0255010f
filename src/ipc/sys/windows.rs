//! Windows-only calls.

/// The window build is a Windows GUI program, so a double-click opens no console; a command
/// typed in a terminal then has no console to print to either, unless it attaches to its
/// parent's. Standard handles it was given (a pipe, a file) are kept: only missing ones are
/// taken from the parent's console, where there is one.
pub fn attach_parent_console() {
    use windows_sys::Win32::System::Console::{
        ATTACH_PARENT_PROCESS, AttachConsole, GetStdHandle, STD_ERROR_HANDLE, STD_OUTPUT_HANDLE,
    };
    // SAFETY: GetStdHandle has no preconditions; it returns null when there is no handle.
    let missing = [STD_OUTPUT_HANDLE, STD_ERROR_HANDLE]
        .into_iter()
        .any(|which| unsafe { GetStdHandle(which) }.is_null());
    if missing {
        // SAFETY: AttachConsole has no preconditions; it fails harmlessly when the parent has
        // no console (started from Explorer) or this process already has one.
        unsafe { AttachConsole(ATTACH_PARENT_PROCESS) };
    }
}
