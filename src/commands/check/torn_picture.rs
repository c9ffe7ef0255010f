//! Lesson 2, why the lock: a writer rewrites a picture in place holding the lock and stops
//! halfway; a reader without the lock copies it then, and one with the lock waits. The two child
//! processes (`lesson-writer`, `lesson-reader`) and how the lesson reads what they got.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use image::RgbaImage;

use super::Check;
use super::lessons::{Finding, Picture, failed, finding};
use super::process::Spawned;
use crate::protocol;
use crate::sentence::{Sentence, sentence};

/// Lesson 2's two pictures: one size, so one can be written over the other, and unlike at a
/// glance (the new one is blue).
fn old_and_new_pictures() -> (RgbaImage, RgbaImage) {
    (super::pattern(160, 96, 1), super::pattern(160, 96, 6))
}

/// A writer stopped halfway through an in-place rewrite, holding the lock; a reader without
/// the lock copies then, and one with the lock starts then. The verdict is the locked reader's
/// picture: whole only if the lock really kept it out (a test breaks the lock and sees it torn).
pub(super) fn torn_or_whole(check: &Check, key: &str) -> Finding {
    match readers_meet_a_rewrite(check, key) {
        Ok(finding) => finding,
        Err(err) => failed(err),
    }
}

fn readers_meet_a_rewrite(check: &Check, key: &str) -> Result<Finding, Sentence> {
    let (old, new) = old_and_new_pictures();
    let [old_path, new_path] = ["old.png", "new.png"].map(|name| check.image(name));
    for (picture, path) in [(&old, &old_path), (&new, &new_path)] {
        crate::codec::save_image(picture, Path::new(path)).map_err(|err| err.to_string())?;
    }
    let mut writer = check.start(
        key,
        &["lesson-writer", &old_path, &new_path, "--native-key", key],
        "ready",
    )?;
    writer.say("write")?;
    writer.wait_for("halfway")?;
    let size = format!("{}x{}", old.width(), old.height());
    let reader = |locked: bool| {
        let out = check.image(if locked {
            "with-lock.png"
        } else {
            "without-lock.png"
        });
        let mut args = vec!["lesson-reader", &out, "--native-key", key, "--size", &size];
        if locked {
            args.push("--lock");
        }
        (check.command(key, &args), out)
    };
    let (without_lock, without_path) = reader(false);
    let without = super::image_saved_by(without_lock, Path::new(&without_path))?;
    let (with_lock, with_path) = reader(true);
    let mut locked_reader = Spawned::start(with_lock, "taking the lock")?;
    // A reader the lock keeps out says nothing more until the writer goes on and unlocks.
    let early = locked_reader.wait_within("copied", Duration::from_secs(1));
    writer.say("go on")?;
    let copied = match early {
        Ok(line) => line,
        Err(_) => locked_reader.wait_for("copied")?,
    };
    locked_reader.wait()?;
    writer.finish()?;
    let with = super::saved_image(Path::new(&with_path))?;
    let waited = copied.rsplit("waiting ").next().unwrap_or_default();
    let ((seen_without, _), (seen_with, happened)) =
        (seen(&without, &old, &new), seen(&with, &old, &new));
    let mut found = finding(
        happened,
        sentence!(
            "without the lock the reader copied at once and got %{without}; with the lock the reader waited %{waited} and got %{with}",
            without = seen_without,
            waited = waited,
            with = seen_with
        ),
    );
    found.pictures = vec![
        Picture {
            label: "Without the lock:",
            image: without,
        },
        Picture {
            label: "With the lock:",
            image: with,
        },
    ];
    Ok(found)
}

/// What a reader got, said, and which of lesson 2's answers that is: the new picture whole
/// (a), its top part new and the rest old (b); anything else answers none of them.
fn seen(got: &RgbaImage, old: &RgbaImage, new: &RgbaImage) -> (Sentence, Option<usize>) {
    let rows = new.height();
    match rows_of(got, old, new) {
        (new_rows, 0) if new_rows == rows => (sentence!("the new picture, whole"), Some(0)),
        (new_rows, old_rows) if new_rows > 0 && new_rows + old_rows == rows => (
            sentence!(
                "the top %{new_rows} of %{rows} rows new and the rest old: a torn picture",
                new_rows = new_rows,
                rows = rows
            ),
            Some(1),
        ),
        (0, old_rows) if old_rows == rows => (sentence!("the old picture, whole"), None),
        _ => (sentence!("a picture that is neither old nor new"), None),
    }
}

/// How many rows of `got`, from the top, are `new`'s, and how many after them are `old`'s.
fn rows_of(got: &RgbaImage, old: &RgbaImage, new: &RgbaImage) -> (u32, u32) {
    if got.dimensions() != new.dimensions() {
        return (0, 0);
    }
    fn row(image: &RgbaImage, y: u32) -> &[u8] {
        let len = image.width() as usize * 4;
        &image.as_raw()[y as usize * len..(y as usize + 1) * len]
    }
    let new_rows = (0..new.height())
        .take_while(|&y| row(got, y) == row(new, y))
        .count() as u32;
    let old_rows = (new_rows..new.height())
        .take_while(|&y| row(got, y) == row(old, y))
        .count() as u32;
    (new_rows, old_rows)
}

/// `shmimage lesson-writer`: lesson 2's writer, in its own process.
pub fn lesson_writer(
    endpoint: &protocol::Endpoint,
    old: &Path,
    new: &Path,
    out: &mut dyn Write,
) -> Result<(), crate::commands::CliError> {
    let [old, new] = [old, new].map(crate::codec::decode_file);
    let (old, new) = (old?.image, new?.image);
    let mut picture = protocol::in_place::InPlacePicture::share(endpoint, &old)?;
    let mut say = |line: &str| {
        writeln!(out, "{line}").ok();
        out.flush().ok();
    };
    let mut lines = std::io::stdin().lines().map_while(Result::ok);
    say("ready");
    if lines.by_ref().any(|line| line.trim() == "write") {
        picture.rewrite(&new, || {
            say("halfway");
            let _ = lines.by_ref().any(|line| line.trim() == "go on");
        })?;
        say("written");
    }
    // Shared until the lesson is done with it.
    lines.for_each(drop);
    picture.withdraw();
    Ok(())
}

/// `shmimage lesson-reader`: one of lesson 2's readers, in its own process.
pub fn lesson_reader(
    endpoint: &protocol::Endpoint,
    path: &Path,
    (width, height): (u32, u32),
    lock: bool,
    out: &mut dyn Write,
) -> Result<(), crate::commands::CliError> {
    let said = if lock {
        "taking the lock"
    } else {
        "copying without the lock"
    };
    writeln!(out, "{said}").ok();
    out.flush().ok();
    let copy = protocol::in_place::copy(endpoint, width, height, lock)?;
    crate::codec::save_image(&copy.picture, path)?;
    writeln!(
        out,
        "copied after waiting {}",
        protocol::human_duration(copy.waited)
    )
    .ok();
    Ok(())
}
