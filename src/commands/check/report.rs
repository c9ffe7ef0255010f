//! What a check reports: the machine it ran on, and the table as text, Markdown or JSON.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use super::{Report, Row, Section};
use crate::protocol::SegmentDir;

/// The machine the check ran on, for a QA ticket.
#[derive(Debug, Clone)]
pub struct About {
    pub os: String,
    pub arch: &'static str,
    pub dir: PathBuf,
    pub filesystem: String,
    pub version: &'static str,
    pub date: String,
}

impl About {
    pub(super) fn of(dir: &SegmentDir) -> Self {
        Self {
            os: os_name(),
            arch: std::env::consts::ARCH,
            dir: dir.path().to_path_buf(),
            filesystem: dir.filesystem(),
            version: env!("CARGO_PKG_VERSION"),
            date: today(),
        }
    }
}

fn os_name() -> String {
    #[cfg(target_os = "linux")]
    if let Ok(release) = std::fs::read_to_string("/etc/os-release")
        && let Some(name) = release.lines().find_map(|l| l.strip_prefix("PRETTY_NAME="))
    {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        return format!("{}, Linux {}", name.trim_matches('"'), kernel.trim());
    }
    let output = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    #[cfg(target_os = "macos")]
    if let Some(version) = output("sw_vers", &["-productVersion"]) {
        return format!("macOS {version}");
    }
    #[cfg(windows)]
    if let Some(name) = windows_name() {
        return name;
    }
    let _ = output;
    std::env::consts::OS.to_owned()
}

/// Windows' name for itself, read from the registry: `cmd /C ver` answers in the console's
/// code page, which a Chinese Windows garbles.
#[cfg(windows)]
fn windows_name() -> Option<String> {
    use winreg::RegKey;
    use winreg::enums::HKEY_LOCAL_MACHINE;
    let key = RegKey::predef(HKEY_LOCAL_MACHINE)
        .open_subkey("SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion")
        .ok()?;
    let text = |name: &str| key.get_value::<String, _>(name).ok();
    let product = text("ProductName")?;
    let build = text("CurrentBuild").and_then(|build| build.parse().ok());
    let revision = key.get_value::<u32, _>("UBR").ok();
    Some(crate::platform::windows_name(
        &product,
        text("DisplayVersion").as_deref(),
        build,
        revision,
    ))
}

/// Today's date (UTC), from the system clock.
fn today() -> String {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    // "2026-11-28T11:55:24Z": the date is what a ticket needs.
    now.split('T').next().unwrap_or_default().to_owned()
}

/// The word a row's result is shown with: a contract passes or fails; a measurement is
/// information, unless it could not be made.
pub fn verdict(row: &Row) -> &'static str {
    if row.passed && super::is_not_measured(&row.observed) {
        return "info";
    }
    match (row.passed, row.section.is_contract()) {
        (true, true) => "pass",
        (true, false) => "info",
        (false, _) => "FAIL",
    }
}

/// The report's rows, each section's after its heading: (heading, rows).
pub fn by_section(rows: &[Row]) -> Vec<(Section, Vec<&Row>)> {
    let mut sections: Vec<(Section, Vec<&Row>)> = Vec::new();
    for row in rows {
        match sections.last_mut() {
            Some((section, rows)) if *section == row.section => rows.push(row),
            _ => sections.push((row.section, vec![row])),
        }
    }
    sections
}

/// One line per row, for a terminal.
pub fn to_text(report: &Report) -> String {
    let mut out = String::new();
    for (section, rows) in by_section(&report.rows) {
        let _ = writeln!(out, "== {} ==", section.heading());
        for row in rows {
            let how = match (row.passed, section.is_contract()) {
                (true, true) => "as the contract says",
                (false, true) => "NOT as the contract says",
                (true, false) => "measured",
                (false, false) => "could not be measured",
            };
            let _ = writeln!(
                out,
                "{} [{}] {}: {how} ({} ms)\n    {}: {}\n    observed: {}",
                verdict(row),
                row.column.name(),
                row.scenario,
                row.took.as_millis(),
                if section.is_contract() {
                    "expected"
                } else {
                    "how"
                },
                row.expected,
                row.observed
            );
        }
    }
    let count = |word: &str| report.rows.iter().filter(|r| verdict(r) == word).count();
    let _ = writeln!(
        out,
        "{} passed, {} measured, {} failed ({}, segment directory {} on {})",
        count("pass"),
        count("info"),
        count("FAIL"),
        report.about.os,
        report.about.dir.display(),
        report.about.filesystem
    );
    out
}

/// A QA ticket: the machine, then the table.
pub fn to_markdown(report: &Report) -> String {
    let about = &report.about;
    let mut out = format!(
        "## shmimage check\n\n\
         - OS: {}\n- Architecture: {}\n- Segment directory: `{}` ({})\n- shmimage: {}\n- Date: {}\n",
        about.os,
        about.arch,
        about.dir.display(),
        about.filesystem,
        about.version,
        about.date
    );
    for (section, rows) in by_section(&report.rows) {
        let _ = write!(
            out,
            "\n### {}\n\n| rules | scenario | {} | observed | result | time |\n|---|---|---|---|---|---|\n",
            section.heading(),
            if section.is_contract() {
                "expected"
            } else {
                "how"
            }
        );
        for row in rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} ms |",
                row.column.name(),
                row.scenario,
                row.expected,
                row.observed.english().replace('|', "\\|"),
                match verdict(row) {
                    "FAIL" => "**FAIL**",
                    word => word,
                },
                row.took.as_millis()
            );
        }
    }
    out
}

/// One JSON object, for scripts.
pub fn to_json(report: &Report) -> String {
    let text = |s: &str| {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    };
    let about = &report.about;
    let rows: Vec<String> = report
        .rows
        .iter()
        .map(|row| {
            format!(
                "{{\"section\":{},\"rules\":{},\"scenario\":{},\"expected\":{},\"observed\":{},\"passed\":{},\"ms\":{}}}",
                text(row.section.id()),
                text(row.column.name()),
                text(row.scenario),
                text(row.expected),
                text(&row.observed.english()),
                row.passed,
                row.took.as_millis()
            )
        })
        .collect();
    format!(
        "{{\"os\":{},\"arch\":{},\"dir\":{},\"filesystem\":{},\"version\":{},\"date\":{},\"passed\":{},\"rows\":[{}]}}\n",
        text(&about.os),
        text(about.arch),
        text(&about.dir.display().to_string()),
        text(&about.filesystem),
        text(about.version),
        text(&about.date),
        report.passed(),
        rows.join(",")
    )
}
