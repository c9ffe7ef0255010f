//! The one panic boundary: code that may panic on bad input (a decoder) or through a bug (the
//! work of a background thread) runs inside [`catch`], and its panic becomes an error that the
//! caller turns into a sentence. A caught panic goes to the log, not to the terminal: the
//! sentence is what a person sees.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};

thread_local! {
    /// How many [`catch`] calls this thread is inside.
    static CATCHING: Cell<usize> = const { Cell::new(0) };
}

/// Runs `work`; a panic in it is returned as what it said.
pub fn catch<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    CATCHING.with(|depth| depth.set(depth.get() + 1));
    let result = panic::catch_unwind(AssertUnwindSafe(work));
    CATCHING.with(|depth| depth.set(depth.get() - 1));
    result.map_err(|panic| message(&*panic))
}

/// What a caught panic said, for the sentence that reports it.
pub fn message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown error".to_owned())
}

/// Sends a panic inside [`catch`] to the log at debug level (its caller says what happened);
/// any other panic still prints as Rust prints it: that is a bug to report.
pub fn quiet_when_caught() {
    let print = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if CATCHING.with(Cell::get) > 0 {
            log::debug!("caught: {info}");
        } else {
            print(info);
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_panic_is_an_error_with_its_message() {
        assert_eq!(catch(|| 7), Ok(7));
        assert_eq!(
            catch(|| panic!("boom {}", 1)),
            Err::<(), _>("boom 1".to_owned())
        );
        assert_eq!(
            catch(|| std::panic::panic_any(3u8)),
            Err::<(), _>("unknown error".to_owned())
        );
        assert_eq!(CATCHING.with(Cell::get), 0, "the depth is back to 0");
    }
}
