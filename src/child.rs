//! Starting another program, or another copy of this one, as a child: on Windows without a
//! console window of its own, which a console program started by a window would otherwise get.

use std::ffi::OsStr;
use std::process::Command;

/// `Command::new(program)`, started without a console window on Windows.
pub fn command(program: impl AsRef<OsStr>) -> Command {
    #[cfg_attr(not(windows), allow(unused_mut))]
    let mut command = Command::new(program);
    #[cfg(windows)]
    {
        use std::os::windows::process::CommandExt;
        const CREATE_NO_WINDOW: u32 = 0x0800_0000;
        command.creation_flags(CREATE_NO_WINDOW);
    }
    command
}
