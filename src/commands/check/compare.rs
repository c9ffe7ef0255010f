//! `shmimage check --compare`: reports made with `check --json` on several machines, side by
//! side in one Markdown table, one column per OS and rules, one row per scenario, so that what
//! differs between OSes (the article's point) is one glance.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{CheckError, Section};
use crate::sentence::Sentence;

/// Larger than any report `check --json` writes by far; anything larger is not one.
const MAX_REPORT_BYTES: u64 = 1 << 20;

/// The parts of a `check --json` report the table shows.
#[derive(Debug, Clone, Deserialize)]
pub struct Saved {
    pub os: String,
    rows: Vec<SavedRow>,
}

#[derive(Debug, Clone, Deserialize)]
struct SavedRow {
    /// Reports made before the boundaries were measured have only the lifetime table.
    #[serde(default = "lifetime")]
    section: String,
    rules: String,
    scenario: String,
    observed: String,
    passed: bool,
}

fn lifetime() -> String {
    Section::Lifetime.id().to_owned()
}

impl SavedRow {
    /// Its section; one this version does not know goes last, with the visibility rows.
    fn section(&self) -> Section {
        Section::from_id(&self.section).unwrap_or(Section::Visibility)
    }
}

/// One line of this machine's report beside another's (the window's Check panel): what each
/// observed, and whether it passed; `None` where that side did not run the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideBySide {
    pub section: Section,
    pub rules: String,
    pub scenario: String,
    pub here: Option<(String, bool)>,
    pub there: Option<(String, bool)>,
}

/// This machine's rows (`here`, in their order, each observation told by `tell`: the window
/// tells them in its language) with the other report's beside them, as it saved them, then the
/// other report's rows that did not run here.
pub fn side_by_side(
    here: &[super::Row],
    there: &Saved,
    tell: impl Fn(&Sentence) -> String,
) -> Vec<SideBySide> {
    let mut lines: Vec<SideBySide> = here
        .iter()
        .map(|row| SideBySide {
            section: row.section,
            rules: row.column.name().to_owned(),
            scenario: row.scenario.to_owned(),
            here: Some((tidy(&tell(&row.observed)), row.passed)),
            there: None,
        })
        .collect();
    for row in &there.rows {
        let observed = Some((tidy(&row.observed), row.passed));
        match lines.iter_mut().find(|line| {
            line.section == row.section()
                && line.rules == row.rules
                && line.scenario == row.scenario
        }) {
            Some(line) => line.there = observed,
            None => lines.push(SideBySide {
                section: row.section(),
                rules: row.rules.clone(),
                scenario: row.scenario.clone(),
                here: None,
                there: observed,
            }),
        }
    }
    lines
}

/// The table, in Markdown.
pub fn compare(paths: &[PathBuf]) -> Result<String, CheckError> {
    let reports: Vec<Saved> = paths
        .iter()
        .map(|path| read(path))
        .collect::<Result<_, _>>()?;
    Ok(table(&reports))
}

/// Reads a report `check --json` wrote (at most 1 MiB; anything else is refused with why).
pub fn read(path: &Path) -> Result<Saved, CheckError> {
    let not_a_report = |why: String| CheckError::NotAReport {
        path: path.to_path_buf(),
        why,
    };
    let file = crate::safe_fs::open_file(path, crate::safe_fs::OpenFor::Reading)
        .map_err(|err| not_a_report(err.to_string()))?;
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut std::io::Read::take(file, MAX_REPORT_BYTES + 1),
        &mut text,
    )
    .map_err(|err| not_a_report(err.to_string()))?;
    if text.len() as u64 > MAX_REPORT_BYTES {
        return Err(not_a_report(format!(
            "it is over {MAX_REPORT_BYTES} bytes, far more than a report"
        )));
    }
    serde_json::from_str(&text).map_err(|err| not_a_report(err.to_string()))
}

/// One table per section, under its heading when there is more than the lifetime table.
fn table(reports: &[Saved]) -> String {
    let present: Vec<Section> = Section::ALL
        .into_iter()
        .filter(|section| {
            reports
                .iter()
                .any(|r| r.rows.iter().any(|row| row.section() == *section))
        })
        .collect();
    let mut out = String::new();
    for section in &present {
        if present.len() > 1 {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&format!("#### {}\n\n", section.heading()));
        }
        out.push_str(&section_table(reports, *section));
    }
    out
}

/// One column per report and rules (in the order given), one row per scenario (in the order
/// first met); a scenario a column did not run shows "—".
fn section_table(reports: &[Saved], section: Section) -> String {
    let mut columns: Vec<(&Saved, &str)> = Vec::new();
    let mut scenarios: Vec<&str> = Vec::new();
    for report in reports {
        for row in report.rows.iter().filter(|row| row.section() == section) {
            if !columns
                .iter()
                .any(|(r, rules)| std::ptr::eq(*r, report) && *rules == row.rules)
            {
                columns.push((report, &row.rules));
            }
            if !scenarios.contains(&row.scenario.as_str()) {
                scenarios.push(&row.scenario);
            }
        }
    }
    let cell = |text: &str| text.replace('|', "\\|").replace('\n', " ");
    let mut out = String::from("| scenario |");
    for (report, rules) in &columns {
        // "Debian GNU/Linux 12 (bookworm), Linux 6.1.0-13": the kernel's build is noise here.
        let os = report.os.split(", ").next().unwrap_or_default();
        out.push_str(&format!(" {} · {} |", cell(os), cell(rules)));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(columns.len()));
    out.push('\n');
    for scenario in &scenarios {
        out.push_str(&format!("| {} |", cell(scenario)));
        for (report, rules) in &columns {
            let found = report.rows.iter().find(|row| {
                row.section() == section && row.rules == *rules && row.scenario == *scenario
            });
            match found {
                Some(row) if row.passed => {
                    out.push_str(&format!(" {} |", cell(&tidy(&row.observed))))
                }
                Some(row) => out.push_str(&format!(" **FAIL**: {} |", cell(&tidy(&row.observed)))),
                None => out.push_str(" — |"),
            }
        }
        out.push('\n');
    }
    out
}

/// An observation without what differs from run to run and says nothing about the OS: the
/// check's own key names, and the advice that follows "nothing is shared". The window shows
/// its rows so; the command line prints them whole.
pub fn tidy(observed: &str) -> String {
    let mut text = observed.replace("; load an image in another window first", "");
    while let Some(start) = text.find(" under key \"") {
        let rest = &text[start + " under key \"".len()..];
        let Some(end) = rest.find('"') else { break };
        let after = start + " under key \"".len() + end + 1;
        text.replace_range(start..after, "");
    }
    // A probe's throw-away name carries the check's pid: shmimage-check-12381-visible.
    let mut from = 0;
    while let Some(found) = text[from..].find("shmimage-check-") {
        let digits = from + found + "shmimage-check-".len();
        let end = digits
            + text[digits..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
        if end > digits {
            text.replace_range(digits..end, "PID");
        }
        from = digits;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(json: &str) -> Saved {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn reports_line_up_by_scenario_with_a_column_per_os_and_rules() {
        let linux = report(
            r#"{"os":"Debian, Linux 6.1","rows":[
                {"rules":"shmimage","scenario":"a writer is killed","observed":"gone","passed":true},
                {"rules":"Qt 5 rules","scenario":"a writer is killed","observed":"create fails","passed":true},
                {"rules":"shmimage","scenario":"a | pipe","observed":"x","passed":false}]}"#,
        );
        let windows = report(
            r#"{"os":"Windows","extra":1,"rows":[
                {"rules":"shmimage","scenario":"a writer is killed","observed":"gone","passed":true,"ms":3}]}"#,
        );
        let text = table(&[linux, windows]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "| scenario | Debian · shmimage | Debian · Qt 5 rules | Windows · shmimage |"
        );
        assert_eq!(lines[1], "|---|---|---|---|");
        assert_eq!(
            lines[2],
            "| a writer is killed | gone | create fails | gone |"
        );
        assert_eq!(lines[3], "| a \\| pipe | **FAIL**: x | — | — |");
        assert_eq!(lines.len(), 4);
    }

    /// Newer reports have sections: each gets its own table under its heading, and a row lines
    /// up only with the same section's.
    #[test]
    fn sections_get_a_table_each() {
        let mac = report(
            r#"{"os":"macOS 15","rows":[
                {"rules":"shmimage","scenario":"a writer is killed","observed":"gone","passed":true},
                {"section":"limits","rules":"native keys and Qt 6","scenario":"the longest name","observed":"31 bytes","passed":true}]}"#,
        );
        let old_linux = report(
            r#"{"os":"Debian","rows":[{"rules":"shmimage","scenario":"a writer is killed","observed":"gone","passed":true}]}"#,
        );
        let text = table(&[mac, old_linux]);
        let lifetime = text.find("#### Lifetime").unwrap();
        let limits = text.find("#### Limits, measured").unwrap();
        assert!(lifetime < limits, "{text}");
        assert!(
            text.contains("| a writer is killed | gone | gone |"),
            "{text}"
        );
        assert!(text.contains("| the longest name | 31 bytes |\n"), "{text}");
        assert!(
            text[limits..].contains("| scenario | macOS 15 · native keys and Qt 6 |"),
            "{text}"
        );
    }

    #[test]
    fn another_report_lines_up_beside_this_machines_rows() {
        use super::super::{Column, Row};
        let here = [Row {
            section: Section::Lifetime,
            column: Column::Shmimage,
            scenario: "a writer is killed",
            expected: "",
            observed: crate::sentence::sentence!("get: %{got}", got = "gone"),
            passed: true,
            took: std::time::Duration::ZERO,
        }];
        let there = report(
            r#"{"os":"Windows","rows":[
                {"rules":"Qt 5 rules","scenario":"a lock holder is killed","observed":"hangs","passed":true},
                {"rules":"shmimage","scenario":"a writer is killed","observed":"gone too","passed":false}]}"#,
        );
        let lines = side_by_side(&here, &there, |observed| observed.in_language("zh-CN"));
        assert_eq!(lines.len(), 2);
        // This machine's rows in the window's language; the other's as it saved them.
        assert_eq!(lines[0].here, Some(("get：gone".to_owned(), true)));
        assert_eq!(lines[0].there, Some(("gone too".to_owned(), false)));
        assert_eq!(lines[1].rules, "Qt 5 rules");
        assert_eq!(lines[1].here, None);
    }

    #[test]
    fn cells_leave_out_the_checks_own_key_names() {
        assert_eq!(
            tidy(
                r#"get: says nothing is shared under key "shmimage-check-32-exits"; load an image in another window first; next: works"#
            ),
            "get: says nothing is shared; next: works"
        );
        assert_eq!(
            tidy("yes, as /dev/shm/shmimage-check-12381-visible: ls shows it"),
            "yes, as /dev/shm/shmimage-check-PID-visible: ls shows it"
        );
        assert_eq!(tidy(r#"under key "unclosed"#), r#"under key "unclosed"#);
    }
}
