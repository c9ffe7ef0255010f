//! Lessons: the article as experiments a class first predicts, then runs for real, then hears
//! explained. Each lesson's run uses `check`'s machinery (real child processes on the user's
//! segment directory, under keys of its own, everything removed afterwards), and what happened
//! is read from what the processes did, never scripted. The texts here are the one source of
//! both the window's panel and the teacher's handout (`shmimage lessons --markdown`), in English
//! and, through `locales/app.yml`, Chinese.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use image::RgbaImage;

use super::process::Spawned;
use super::{Check, CheckError, scenarios, users};
use crate::platform::Os;
use crate::protocol::{self, SegmentDir};
use crate::sentence::{Sentence, sentence};

/// Keys a lesson uses besides its own slug (Qt's rules get keys with "qt" in them, which the
/// cleanup knows to clean as Qt's).
pub(super) const EXTRA_SLUGS: &[&str] = &["l4own", "qtl4", "qtl5"];

/// One experiment.
pub struct Lesson {
    /// Part of its key, so every lesson has one of its own.
    pub slug: &'static str,
    pub title: &'static str,
    /// Two sentences: what is set up.
    pub setup: &'static str,
    pub question: &'static str,
    pub answers: &'static [&'static str],
    /// The answer that comes out on `os`, for the handout's answer key.
    pub expected: fn(Os) -> usize,
    pub why: &'static str,
    run: fn(&Check, &str) -> Finding,
}

/// What a run saw, and which answer that is (`None`: the run could not tell here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub observed: Sentence,
    pub happened: Option<usize>,
    /// What the readers got, where seeing it is the lesson (lesson 2's torn picture).
    pub pictures: Vec<Picture>,
    /// Every step the lesson's processes recorded, and how each ended, as the Protocol panel
    /// shows a key's: read before the lesson's keys are cleaned up.
    pub lanes: Vec<protocol::ProcessJournal>,
}

/// A picture a reader process got, and a label that says which reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    pub label: &'static str,
    pub image: RgbaImage,
}

pub const LESSONS: &[Lesson] = &[
    Lesson {
        slug: "l1",
        title: "The protocol",
        setup: "A writer process loads an image into shared memory, and a reader process fetches it. Both record every step they take in the protocol journal.",
        question: "In what order does the writer work?",
        answers: &[
            "create, lock, copy in, unlock",
            "lock, copy in, create, unlock",
            "create, copy in, unlock, lock",
        ],
        expected: |_| 0,
        why: "Qt's loadFromFile: create() makes a segment as large as the image, lock() keeps readers out while memcpy fills it, and unlock() lets them in. The reader does attach, lock, copy out, unlock, detach, so it never sees half an image.",
        run: protocol_order,
    },
    Lesson {
        slug: "l2",
        title: "Why the lock",
        setup: "A writer rewrites a picture in place, slice by slice, holding the lock, and stops halfway. One reader copies the picture without taking the lock, as a program reading a native key does; another takes the lock first.",
        question: "What does the reader that takes the lock get?",
        answers: &[
            "the new picture, whole, once the writer is done",
            "the top half new and the rest old: a torn picture",
            "an error: the picture is busy",
        ],
        expected: |_| 0,
        why: "The lock makes the rewrite one step for everyone else: the reader that takes it waits until the writer unlocks, then copies the whole new picture. The reader without it copies what is there halfway, the top half new and the rest old: a torn picture. shmimage's own segments are written once, before any reader can see them, so they cannot tear; a native key has no lock, and a video source that rewrites frames in place can tear them.",
        run: super::torn_picture::torn_or_whole,
    },
    Lesson {
        slug: "l3",
        title: "Waiting",
        setup: "One process holds the lock for a second and a half, halfway through writing its image, as a window paused in step-through holds it. Another process fetches the image meanwhile.",
        question: "What does the second process do?",
        answers: &[
            "it fails at once: the segment is busy",
            "it waits, and reads the image once the lock is given back",
            "it reads the image at once, without waiting",
        ],
        expected: |_| 1,
        why: "lock() blocks until the holder unlocks. shmimage waits at most five seconds, and longer while the holder is a window in step-through, then says who holds the lock.",
        run: waiting,
    },
    Lesson {
        slug: "l4",
        title: "The article's bug",
        setup: "A writer shares an image and is killed (kill -9, or TerminateProcess) while idle, holding its segment. Then a new writer creates a segment under the same key, as Qt's example does.",
        question: "What does Qt's next create() do on this machine?",
        answers: &[
            "it works: the dead writer's segment is gone",
            "it fails: \"Unable to create shared memory segment.\"",
            "it waits for the dead writer's lock",
        ],
        expected: |os| if os == Os::Windows { 0 } else { 1 },
        why: "On Windows the kernel frees a file mapping when its last handle closes, and a killed process's handles close. System V (Linux, macOS) keeps a segment until someone removes it, and Qt removes it only in detach(), which a killed writer never calls. shmimage's own segments go with their last process on every OS, and its Qt mode removes such a leftover and says so.",
        run: article_bug,
    },
    Lesson {
        slug: "l5",
        title: "A lock holder is killed",
        setup: "A reader is killed while it holds the lock, halfway through its copy. Then another reader fetches the image.",
        question: "In shmimage's own mode, what does the next reader get?",
        answers: &[
            "the image, at once: the OS gave the lock back",
            "nothing, ever: the lock stays taken",
            "a damaged image",
        ],
        expected: |_| 0,
        why: "shmimage's lock is a file lock (flock, LockFileEx), which the OS releases when its holder dies. System V semaphores have an undo that does the same for Qt 5. Qt 6's POSIX semaphore and Windows' named semaphore have none: a killed holder leaves them taken, and Qt's next lock() waits forever.",
        run: holder_killed,
    },
    Lesson {
        slug: "l6",
        title: "Another user",
        setup: "Another user of this machine (uid 65534) points shmimage at your segment directory, then publishes under the same key in their own.",
        question: "What can they do to your image?",
        answers: &[
            "read it",
            "replace it",
            "neither: they cannot enter your directory, and their image is their own",
        ],
        expected: |_| 2,
        why: "Each user's segments live in a directory only that user may enter, so the same key names two different images. Qt's System V keys and key files, by contrast, are one namespace for every user.",
        run: another_user,
    },
];

impl Finding {
    /// What the run saw, in `locale`, without the check's own key names, which say nothing to
    /// a class.
    pub fn observed_in(&self, locale: &str) -> String {
        super::compare::tidy(&self.observed.in_language(locale))
    }
}

pub(super) fn finding(happened: Option<usize>, observed: Sentence) -> Finding {
    Finding {
        observed,
        happened,
        pictures: Vec::new(),
        lanes: Vec::new(),
    }
}

pub(super) fn failed(why: impl Into<Sentence>) -> Finding {
    finding(None, sentence!("the run failed: %{why}", why = why.into()))
}

/// Runs lesson `index` with real processes, and removes what it made.
pub fn run(dir: &SegmentDir, program: &Path, index: usize) -> Result<Finding, CheckError> {
    let lesson = LESSONS
        .get(index)
        .ok_or(CheckError::NoSuchLesson { index })?;
    let mut check = Check::prepare(dir, program)?;
    check.journals = true;
    let mut found = (lesson.run)(&check, &check.key(lesson.slug));
    found.lanes = lanes(&check);
    check.finish();
    Ok(found)
}

/// What every process of the run recorded, under any of the lessons' keys, in any mode, oldest
/// process first.
fn lanes(check: &Check) -> Vec<protocol::ProcessJournal> {
    let slugs = LESSONS
        .iter()
        .map(|lesson| lesson.slug)
        .chain(EXTRA_SLUGS.iter().copied());
    let mut lanes: Vec<protocol::ProcessJournal> = slugs
        .flat_map(|slug| {
            protocol::Mode::ALL.into_iter().flat_map(move |mode| {
                protocol::journal(&check.endpoint(&check.key(slug)).with_mode(mode))
            })
        })
        .collect();
    lanes.sort_by_key(|lane| (lane.owner.opened_us, lane.owner.pid));
    lanes
}

/// The writer's steps, from its own journal.
fn protocol_order(check: &Check, key: &str) -> Finding {
    let put = |key| {
        let mut command = check.command(
            key,
            &["put", &check.image("first.png"), "--until-stdin-closes"],
        );
        command.env_remove(protocol::JOURNAL_ENV);
        Spawned::start(command, "ready")
    };
    let _writer = match put(key) {
        Ok(writer) => writer,
        Err(err) => return failed(err),
    };
    let endpoint = check.endpoint(key);
    let lanes = protocol::journal(&endpoint);
    let steps: Vec<&str> = lanes
        .iter()
        .filter(|lane| lane.owner.role == protocol::Role::Put)
        .flat_map(|lane| lane.records.iter())
        .filter(|record| record.state == protocol::State::Ok)
        .map(|record| record.step.name())
        .filter(|name| matches!(*name, "create" | "lock" | "copy in" | "unlock"))
        .collect();
    let order = steps.join(", ");
    let happened = LESSONS[0]
        .answers
        .iter()
        .position(|answer| *answer == order);
    finding(
        happened,
        sentence!("the writer's journal: %{order}", order = order),
    )
}

fn waiting(check: &Check, key: &str) -> Finding {
    let mut holder = check.command(
        key,
        &["put", &check.image("first.png"), "--until-stdin-closes"],
    );
    holder.env(protocol::PAUSE_MID_COPY_ENV, "1500");
    let _holder = match Spawned::start(holder, "paused mid-copy") {
        Ok(holder) => holder,
        Err(err) => return failed(err),
    };
    let started = Instant::now();
    let got = check.get(key, &[]);
    let waited = started.elapsed().as_millis();
    match got {
        Ok(image) if image == check.first && waited >= 1000 => finding(
            Some(1),
            sentence!(
                "the second process waited %{ms} ms, then read the image",
                ms = waited
            ),
        ),
        Ok(_) => finding(
            Some(2),
            sentence!("the second process read at once (%{ms} ms)", ms = waited),
        ),
        Err(err) => finding(
            Some(0),
            sentence!(
                "the second process failed after %{ms} ms: %{error}",
                ms = waited,
                error = err
            ),
        ),
    }
}

fn article_bug(check: &Check, _key: &str) -> Finding {
    let qt = match scenarios::qt_create_after_a_kill(check, &check.key("qtl4")) {
        Ok(qt) => qt,
        Err(why) => return failed(why),
    };
    let ours = scenarios::writer_killed(check, &check.key("l4own"));
    let text = |result: scenarios::Observed| result.unwrap_or_else(|observed| observed);
    finding(
        Some(if qt.created { 0 } else { 1 }),
        sentence!(
            "Qt's rules: %{qt}. shmimage's own segments: %{ours}",
            qt = text(qt.observed),
            ours = text(ours)
        ),
    )
}

fn holder_killed(check: &Check, key: &str) -> Finding {
    let ours = scenarios::lock_holder_killed_seen(check, key);
    let qt = scenarios::qt_lock_holder_killed(check, &check.key("qtl5"));
    let text = |result: scenarios::Observed| result.unwrap_or_else(|observed| observed);
    let (happened, ours) = match ours {
        Ok((got, observed)) => (Some(got.answer()), text(observed)),
        Err(why) => (None, why),
    };
    finding(
        happened,
        sentence!(
            "shmimage: %{ours}. Qt 5's rules: %{qt}",
            ours = ours,
            qt = text(qt)
        ),
    )
}

fn another_user(check: &Check, key: &str) -> Finding {
    match users::another_user(check, key) {
        Ok(observed) if super::is_not_measured(&observed) => finding(None, observed),
        Ok(observed) => finding(Some(2), observed),
        Err(observed) => finding(None, observed),
    }
}

/// The teacher's handout: every lesson's setup, question and answers, and with `answers` what
/// comes out on `os` and why, in `language` ("en" or "zh-CN").
pub fn handout(answers: bool, os: Os, language: &str) -> String {
    let t = |text: &str| rust_i18n::t!(text, locale = language).into_owned();
    let mut out = format!("# {}\n\n", t("shmimage lessons: predict, run, explain"));
    for (number, lesson) in LESSONS.iter().enumerate() {
        let _ = write!(
            out,
            "## {}. {}\n\n{}\n\n**{}**\n\n",
            number + 1,
            t(lesson.title),
            t(lesson.setup),
            t(lesson.question)
        );
        for (letter, answer) in ('a'..).zip(lesson.answers) {
            let _ = writeln!(out, "- ({letter}) {}", t(answer));
        }
        if answers {
            let right = (lesson.expected)(os);
            let letter = (b'a' + right as u8) as char;
            let _ = write!(
                out,
                "\n{} ({letter}) {}. {}\n",
                t("Answer:"),
                t(lesson.answers[right]),
                t(lesson.why)
            );
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every text of every lesson is translated: the handout and the panel come from here.
    #[test]
    fn every_lesson_text_has_its_chinese() {
        for lesson in LESSONS {
            let texts = [lesson.title, lesson.setup, lesson.question, lesson.why];
            for text in texts.iter().chain(lesson.answers) {
                let chinese = rust_i18n::t!(*text, locale = "zh-CN");
                assert_ne!(chinese, *text, "no zh-CN for {text:?}");
            }
            assert!((3..=4).contains(&lesson.answers.len()), "{}", lesson.title);
            for os in [Os::Linux, Os::MacOs, Os::Windows] {
                assert!((lesson.expected)(os) < lesson.answers.len());
            }
        }
        assert_eq!(LESSONS.len(), 6);
    }

    /// The Check panel shows each row's rules, scenario and what it expects (on hover) in the
    /// window's language; its observations are `sentence!`s, checked where those are.
    #[test]
    fn every_check_row_name_has_its_chinese() {
        use super::super::{Column, sections};
        let columns = [
            Column::Shmimage,
            Column::QtRules,
            Column::NativeKeys,
            Column::Machine,
        ];
        let names = sections()
            .flat_map(|(_, rows)| rows.iter().flat_map(|row| [row.name, row.expected]))
            .chain(
                columns
                    .map(Column::name)
                    .into_iter()
                    .filter(|n| *n != "shmimage"),
            );
        for name in names {
            assert_ne!(
                rust_i18n::t!(name, locale = "zh-CN"),
                name,
                "no zh-CN for {name:?}"
            );
        }
    }

    #[test]
    fn the_handout_has_answers_only_when_asked() {
        let questions = handout(false, Os::Linux, "en");
        assert_eq!(questions.matches("\n## ").count(), 6);
        assert!(!questions.contains("Answer:"));
        let answers = handout(true, Os::Windows, "en");
        assert!(answers.contains("Answer: (a) it works: the dead writer's segment is gone."));
        let linux = handout(true, Os::Linux, "zh-CN");
        assert!(linux.contains("答案： (b) 失败"), "{linux}");
    }
}
