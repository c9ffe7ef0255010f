//! Turns a user's key (any string) into a native key: a file-name-safe string of bounded length.

use super::ShmError;

/// Longest readable part kept from the key; the hash makes the name unique anyway.
const MAX_READABLE_CHARS: usize = 48;
/// Longest raw native key accepted by [`validate_native_key`].
pub const MAX_NATIVE_KEY_LEN: usize = 128;

/// Derives the native key in the spirit of Qt's `QSharedMemory::nativeKey()`, with two
/// differences: Qt keeps only the key's ASCII letters and joins them straight to the hash (see
/// `qt.rs`, which does exactly that for Qt mode); here the readable part keeps ASCII letters and
/// digits (at most 48) and an underscore separates it from the SHA-1 of the whole key in
/// lowercase hex, which is the same hash Qt uses. Any string works, since everything unsafe is dropped from the readable part
/// while the hash still covers it: `../../etc/x` becomes `etcx_…`, never a path.
pub fn native_key_for(key: &str) -> Result<String, ShmError> {
    if key.is_empty() {
        return Err(ShmError::KeyError {
            key: key.to_owned(),
            reason: "the key is empty; type a name such as QSharedMemoryExample".to_owned(),
        });
    }
    let readable: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(MAX_READABLE_CHARS)
        .collect();
    let hash = sha1_smol::Sha1::from(key.as_bytes()).digest().to_string();
    Ok(format!("{readable}_{hash}"))
}

/// Whether `native_key` has the shape [`native_key_for`] gives: at most 48 ASCII letters and
/// digits, `_`, and 40 lowercase hex digits. What `clean` sweeps for all keys: a name of that
/// shape is ours, where a raw native key can be any name (`Cargo.lock` has the shape of the
/// raw native key `Cargo`'s lock file).
pub(crate) fn is_derived_native_key(native_key: &str) -> bool {
    native_key.rsplit_once('_').is_some_and(|(readable, hash)| {
        readable.len() <= MAX_READABLE_CHARS
            && readable.bytes().all(|b| b.is_ascii_alphanumeric())
            && hash.len() == 40
            && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// Checks a raw native key (Qt's `setNativeKey`): it names files directly, so only characters
/// that are safe in a file name on every OS are allowed, and it may not start with a dot.
pub fn validate_native_key(native_key: &str) -> Result<(), ShmError> {
    let reason =
        if native_key.is_empty() {
            Some("the native key is empty".to_owned())
        } else if native_key.len() > MAX_NATIVE_KEY_LEN {
            Some(format!(
                "the native key is {} bytes long, the limit is {MAX_NATIVE_KEY_LEN}",
                native_key.len()
            ))
        } else if native_key.starts_with('.') {
            Some("the native key may not start with a dot".to_owned())
        } else {
            native_key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))).map(|bad| format!(
            "the native key may only hold ASCII letters, digits, '_' and '-', not {bad:?}"
        ))
        };
    match reason {
        Some(reason) => Err(ShmError::KeyError {
            key: native_key.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_key_matches_qt_readable_part_and_hash() {
        // The SHA-1 is the one Qt prints for the example's key (see QT_IPC_SPEC.md).
        assert_eq!(
            native_key_for("QSharedMemoryExample").unwrap(),
            "QSharedMemoryExample_ff77196351dd7c1c8f79461ad32f21726fe31f5b"
        );
    }

    #[test]
    fn hostile_keys_become_safe_bounded_names() {
        let long = "a".repeat(10_000);
        for key in [
            "../../etc/x",
            "a\0b",
            long.as_str(),
            "😀🎉",
            "/",
            "C:\\Windows",
            "..",
        ] {
            let native = native_key_for(key).unwrap();
            assert!(validate_native_key(&native).is_ok(), "{key:?} -> {native}");
            assert!(native.len() <= MAX_READABLE_CHARS + 41);
        }
        assert_ne!(
            native_key_for("a/b").unwrap(),
            native_key_for("ab").unwrap()
        );
    }

    #[test]
    fn empty_key_is_a_key_error() {
        assert!(matches!(native_key_for(""), Err(ShmError::KeyError { .. })));
    }

    #[test]
    fn raw_native_keys_with_path_characters_are_refused() {
        for bad in ["", "../x", ".hidden", "a/b", "a\\b", "a\0b", "ä"] {
            assert!(validate_native_key(bad).is_err(), "{bad:?}");
        }
        assert!(validate_native_key(&"x".repeat(129)).is_err());
        assert!(validate_native_key("my-key_1").is_ok());
    }

    #[test]
    fn only_derived_native_keys_have_the_derived_shape() {
        for key in ["QSharedMemoryExample", "", "共享", &"k".repeat(200)] {
            let native = native_key_for(key).unwrap_or_else(|_| native_key_for("x").unwrap());
            assert!(is_derived_native_key(&native), "{native}");
        }
        let hash = "0".repeat(40);
        for other in [
            "Cargo",
            "yarn",
            "my-key_1",
            &format!("a-b_{hash}"),
            &format!("x_{}", "A".repeat(40)),
            &format!("x_{}", "0".repeat(39)),
            &format!("{}_{hash}", "a".repeat(49)),
        ] {
            assert!(!is_derived_native_key(other), "{other}");
        }
    }
}
