//! The keys that differ by OS, and every shortcut's name as the running OS spells it: Ctrl+O on
//! Linux and Windows, Cmd+O on macOS (egui's `COMMAND` is Cmd there). A Mac keyboard sends F9 and
//! F10 to its media keys, so stepping has a binding of its own there.

use egui::{Key, KeyboardShortcut, ModifierNames, Modifiers};

use crate::platform::Os;

/// Step-through on and off, and the next step: a debugger's F9 and F10, except on macOS.
pub(crate) fn stepping(os: Os) -> (KeyboardShortcut, KeyboardShortcut) {
    match os {
        Os::MacOs => (
            KeyboardShortcut::new(Modifiers::COMMAND.plus(Modifiers::SHIFT), Key::J),
            KeyboardShortcut::new(Modifiers::COMMAND, Key::J),
        ),
        Os::Linux | Os::Windows => (
            KeyboardShortcut::new(Modifiers::NONE, Key::F9),
            KeyboardShortcut::new(Modifiers::NONE, Key::F10),
        ),
    }
}

pub(crate) fn step_through() -> KeyboardShortcut {
    stepping(Os::current()).0
}

pub(crate) fn next_step() -> KeyboardShortcut {
    stepping(Os::current()).1
}

/// How `os` writes `shortcut`: "Ctrl+O", "Cmd+O", "F10", "Esc".
pub(crate) fn name_on(shortcut: &KeyboardShortcut, os: Os) -> String {
    if shortcut.logical_key == Key::Escape && shortcut.modifiers.is_none() {
        return "Esc".to_owned();
    }
    shortcut.format(&ModifierNames::NAMES, os == Os::MacOs)
}

/// How the OS this runs on writes `shortcut`.
pub(crate) fn name(shortcut: &KeyboardShortcut) -> String {
    name_on(shortcut, Os::current())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_os_names_the_shortcuts_its_own_way_and_a_mac_steps_without_function_keys() {
        let open = KeyboardShortcut::new(Modifiers::COMMAND, Key::O);
        assert_eq!(name_on(&open, Os::Linux), "Ctrl+O");
        assert_eq!(name_on(&open, Os::Windows), "Ctrl+O");
        assert_eq!(name_on(&open, Os::MacOs), "Cmd+O");
        let cancel = KeyboardShortcut::new(Modifiers::NONE, Key::Escape);
        for os in [Os::Linux, Os::MacOs, Os::Windows] {
            assert_eq!(name_on(&cancel, os), "Esc");
        }
        for os in [Os::Linux, Os::Windows] {
            let (toggle, next) = stepping(os);
            assert_eq!(
                (name_on(&toggle, os), name_on(&next, os)),
                ("F9".into(), "F10".into())
            );
        }
        let (toggle, next) = stepping(Os::MacOs);
        assert_eq!(name_on(&toggle, Os::MacOs), "Shift+Cmd+J");
        assert_eq!(name_on(&next, Os::MacOs), "Cmd+J");
        for key in [toggle.logical_key, next.logical_key] {
            assert!(
                !matches!(
                    key,
                    Key::F1
                        | Key::F2
                        | Key::F3
                        | Key::F4
                        | Key::F5
                        | Key::F6
                        | Key::F7
                        | Key::F8
                        | Key::F9
                        | Key::F10
                        | Key::F11
                        | Key::F12
                ),
                "{key:?}"
            );
        }
    }
}
