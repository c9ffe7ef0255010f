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

/// Whether the folder at `path` is this user's: its owner is the user this process runs as, or
/// the owner the user's token gives new files (Administrators, for an elevated process). A
/// folder someone else made, even one this user may write to, is not.
pub fn folder_is_mine(path: &std::path::Path) -> std::io::Result<bool> {
    use std::os::windows::fs::OpenOptionsExt;
    use std::os::windows::io::AsRawHandle;
    use windows_sys::Win32::Foundation::{ERROR_SUCCESS, LocalFree};
    use windows_sys::Win32::Security::Authorization::{GetSecurityInfo, SE_FILE_OBJECT};
    use windows_sys::Win32::Security::{
        EqualSid, OWNER_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID, TOKEN_OWNER, TOKEN_USER,
    };
    use windows_sys::Win32::Storage::FileSystem::{
        FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OPEN_REPARSE_POINT, READ_CONTROL,
    };
    // Read before the descriptor is allocated, so that no early return can leak it.
    let [user, default_owner] = token_user_and_owner()?;
    // A folder opens only with backup semantics; a junction in its place is opened, not followed.
    let folder = std::fs::OpenOptions::new()
        .access_mode(READ_CONTROL)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)?;
    let mut owner: PSID = std::ptr::null_mut();
    let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: the handle is open with READ_CONTROL; `owner` and `descriptor` are written by the
    // call, and `owner` points into `descriptor`, which is freed below with LocalFree.
    let status = unsafe {
        GetSecurityInfo(
            folder.as_raw_handle(),
            SE_FILE_OBJECT,
            OWNER_SECURITY_INFORMATION,
            &mut owner,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut descriptor,
        )
    };
    if status != ERROR_SUCCESS {
        return Err(std::io::Error::from_raw_os_error(status as i32));
    }
    // SAFETY: the buffers hold a TOKEN_USER and a TOKEN_OWNER as the calls wrote them (u64
    // elements keep them aligned), and the SIDs they point to live inside the same buffers.
    let mine = unsafe {
        let user_sid = (*user.as_ptr().cast::<TOKEN_USER>()).User.Sid;
        let owner_sid = (*default_owner.as_ptr().cast::<TOKEN_OWNER>()).Owner;
        EqualSid(owner, user_sid) != 0 || EqualSid(owner, owner_sid) != 0
    };
    // SAFETY: `descriptor` was allocated by GetSecurityInfo and is freed once, after its last use.
    unsafe { LocalFree(descriptor) };
    Ok(mine)
}

/// This process's token's user (`TokenUser`) and default owner (`TokenOwner`), each in a buffer
/// aligned for the struct it holds, read through one opening of the token.
fn token_user_and_owner() -> std::io::Result<[Vec<u64>; 2]> {
    use windows_sys::Win32::Foundation::{CloseHandle, HANDLE};
    use windows_sys::Win32::Security::{GetTokenInformation, TOKEN_QUERY, TokenOwner, TokenUser};
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: GetCurrentProcess returns a pseudo-handle that needs no closing; `token` is written
    // by the call and closed below.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(std::io::Error::last_os_error());
    }
    let query = |class| {
        let mut needed = 0u32;
        // SAFETY: a null buffer of length 0 asks only for the size, written to `needed`.
        unsafe { GetTokenInformation(token, class, std::ptr::null_mut(), 0, &mut needed) };
        let mut buffer = vec![0u64; (needed as usize).div_ceil(8).max(1)];
        let length = u32::try_from(buffer.len() * 8).unwrap_or(u32::MAX);
        // SAFETY: `buffer` is writable for `length` bytes; `token` is open with TOKEN_QUERY.
        let written = unsafe {
            GetTokenInformation(
                token,
                class,
                buffer.as_mut_ptr().cast(),
                length,
                &mut needed,
            )
        };
        if written == 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(buffer)
    };
    let both = query(TokenUser).and_then(|user| Ok([user, query(TokenOwner)?]));
    // SAFETY: `token` was opened above and is closed once, after its last use.
    unsafe { CloseHandle(token) };
    both
}

/// How much more memory programs may commit now (the commit limit less what is committed),
/// which bounds every named file mapping backed by the paging file.
pub fn commit_available() -> Option<u64> {
    use windows_sys::Win32::System::SystemInformation::{GlobalMemoryStatusEx, MEMORYSTATUSEX};
    // SAFETY: an all-zero MEMORYSTATUSEX is a valid value of this plain C struct.
    let mut status: MEMORYSTATUSEX = unsafe { std::mem::zeroed() };
    status.dwLength = std::mem::size_of::<MEMORYSTATUSEX>() as u32;
    // SAFETY: `status` is valid, ours, and has its length set as the call requires.
    (unsafe { GlobalMemoryStatusEx(&mut status) } != 0).then_some(status.ullAvailPageFile)
}

/// The logon session this process runs in: 0 for services, 1 and up for desktops.
pub fn session_id() -> Option<u32> {
    use windows_sys::Win32::System::RemoteDesktop::ProcessIdToSessionId;
    let mut session = 0u32;
    // SAFETY: `session` is valid and ours; the call writes one u32 into it.
    (unsafe { ProcessIdToSessionId(std::process::id(), &mut session) } != 0).then_some(session)
}
