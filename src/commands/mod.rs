//! The command line: `put`, `get`, `info`, `clean` and `bench` for scripts, tests and QA, and the
//! window when no command is given.

pub mod bench;
pub mod check;
pub mod follow_bench;
pub mod stream;
pub mod sweep;
pub mod trace;

mod flags;
mod get;
mod info;
mod put;

pub use flags::{Cli, Command, NativeKeyArgs};

use std::io::Write;
use std::time::Duration;

use crate::protocol::{self, Options, SegmentDir, ShareError};
use crate::sentence::{Sentence, sentence};

/// `shmimage lessons --run N`: lesson N with real processes, and which answer that was, in
/// `language` ("en" or "zh-CN").
fn run_lesson(number: usize, language: &str, out: &mut dyn Write) -> Result<(), CliError> {
    let index = number.checked_sub(1).unwrap_or(usize::MAX);
    let program = std::env::current_exe().map_err(|source| check::CheckError::Prepare {
        path: "this program's path".into(),
        source,
    })?;
    let found = check::run_lesson(&segment_dir()?, &program, index)?;
    let lesson = &check::LESSONS[index];
    let lines = [
        sentence!(
            "Lesson %{number}: %{title}",
            number = number,
            title = Sentence::term(lesson.title)
        ),
        Sentence::term(lesson.setup),
        Sentence::term(lesson.question),
        sentence!(
            "observed: %{observed}",
            observed = found.observed_in(language)
        ),
        match found.happened {
            Some(answer) => sentence!(
                "that is answer (%{letter}): %{answer}",
                letter = ((b'a' + answer as u8) as char).to_string(),
                answer = Sentence::term(lesson.answers[answer])
            ),
            None => sentence!("no answer could be told from this run"),
        },
        sentence!("why: %{why}", why = Sentence::term(lesson.why)),
    ];
    for line in lines {
        writeln!(out, "{}", line.in_language(language)).ok();
    }
    Ok(())
}

/// The segment directory: `SHMIMAGE_DIR` if set (tests use it for isolation), else this user's.
pub fn segment_dir() -> Result<SegmentDir, ShareError> {
    Ok(SegmentDir::from_env_or_default()?)
}

/// The lock timeout, the journal switch and the test hooks, from their environment variables.
pub fn options_from_env() -> Options {
    Options::from_env()
}

/// What a command can fail with; printed as one `error: …` line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Share(#[from] ShareError),
    #[error(transparent)]
    Bench(#[from] crate::commands::bench::BenchError),
    #[error(transparent)]
    Check(#[from] crate::commands::check::CheckError),
    #[error(
        "the check found behaviour that differs from the contract (the rows marked FAIL above)"
    )]
    CheckFailed,
    #[error(
        "--native-key before a command is the window's; to {command} with it, put it after the command: shmimage {command} … --native-key NAME"
    )]
    NativeKeyBeforeCommand { command: &'static str },
    #[error("{0}")]
    Sweep(String),
}

impl From<crate::codec::CodecError> for CliError {
    fn from(err: crate::codec::CodecError) -> Self {
        Self::Share(err.into())
    }
}

/// Runs a command; `Ok(false)` means no command was given (the caller opens the window).
pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<bool, CliError> {
    let Some(command) = &cli.command else {
        protocol::Role::Window.set_for_this_process();
        return Ok(false);
    };
    if cli.native.name().is_some() {
        return Err(CliError::NativeKeyBeforeCommand {
            command: command.name(),
        });
    }
    command.role().set_for_this_process();
    match command {
        Command::Put {
            image,
            encoding,
            hold_ms,
            until_stdin_closes,
            watch,
            native_key,
            raw_format,
        } => {
            let stop = put::Stop {
                after: hold_ms.map(Duration::from_millis),
                on_stdin_close: *until_stdin_closes,
                watch: *watch,
            };
            let native = native_key.as_deref().map(|name| (name, *raw_format));
            put::put(&cli.endpoint()?, image, *encoding, native, stop, out)?;
        }
        Command::Get { out: path, native } => {
            get::get(&native.apply(cli.endpoint()?), path, out)?;
        }
        Command::Info { native } => info::info(&native.apply(cli.endpoint()?), out)?,
        Command::Clean => info::clean(out)?,
        Command::BenchReader => bench::reader_command(cli, out)?,
        Command::Check { compare, .. } if !compare.is_empty() => {
            write!(out, "{}", check::compare(compare)?).ok();
        }
        Command::Check { json, markdown, .. } => check::command(*json, *markdown, out)?,
        Command::CheckReader => check::hold_attached(&cli.endpoint()?, out)?,
        Command::LessonWriter {
            old,
            new,
            native_key,
        } => check::lesson_writer(&cli.endpoint()?.with_native_key(native_key), old, new, out)?,
        Command::LessonReader {
            out: path,
            native_key,
            size,
            lock,
        } => check::lesson_reader(
            &cli.endpoint()?.with_native_key(native_key),
            path,
            *size,
            *lock,
            out,
        )?,
        Command::Lessons {
            run: Some(number),
            language,
            ..
        } => run_lesson(*number, language, out)?,
        Command::Lessons {
            answers, language, ..
        } => {
            let handout = check::handout(*answers, crate::platform::Os::current(), language);
            write!(out, "{handout}").ok();
        }
        Command::Bench { .. } | Command::Stream { .. } | Command::Trace { .. } => {
            measure(cli, command, out)?;
        }
    }
    Ok(true)
}

/// The commands that measure or watch: `bench` (with or without `--follow`), `stream` and
/// `trace`.
fn measure(cli: &Cli, command: &Command, out: &mut dyn Write) -> Result<(), CliError> {
    match command {
        Command::Bench {
            sweep: true,
            reps,
            out: prefix,
            ..
        } => sweep::command(cli, *reps, prefix, out)?,
        Command::Bench {
            size,
            json,
            follow: true,
            rate,
            seconds,
            slow_ms,
            native_key,
            raw_format,
            ..
        } => {
            let options = follow_bench::FollowBenchOptions {
                width: size.0,
                height: size.1,
                rate: *rate,
                seconds: *seconds,
                json: *json,
                slow_ms: *slow_ms,
                native_format: native_key.then_some(*raw_format),
            };
            follow_bench::bench_follow_command(cli, &options, out)?;
        }
        Command::Stream {
            size,
            rate,
            seconds,
            encoding,
            native_key,
            raw_format,
        } => {
            let options = stream::StreamOptions {
                width: size.0,
                height: size.1,
                rate: *rate,
                seconds: *seconds,
                encoding: *encoding,
                native: native_key.clone().map(|name| (name, *raw_format)),
            };
            stream::run_stream(&cli.endpoint()?, &options, out)?;
        }
        Command::Bench {
            size,
            image,
            encoding,
            json,
            ..
        } => {
            let options = bench::BenchOptions {
                width: size.0,
                height: size.1,
                image: image.clone(),
                encoding: *encoding,
                json: *json,
            };
            bench::command(cli, &options, out)?;
        }
        Command::Trace {
            json,
            since,
            stop_after,
        } => {
            let options = trace::TraceOptions {
                json: *json,
                since: *since,
                stop_after: *stop_after,
            };
            trace::command(cli, &options, out)?;
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn the_window_takes_a_native_key_and_raw_shape_and_get_keeps_its_own() {
        let cli = Cli::try_parse_from([
            "shmimage",
            "--native-key",
            "frames",
            "--raw",
            "640x480:bgr8",
            "--follow",
        ])
        .unwrap();
        assert_eq!(cli.native.name(), Some("frames"));
        assert_eq!(cli.native.shape_text().as_deref(), Some("640x480:bgr8"));
        assert!(cli.command.is_none());
        // A shape means nothing without the object it describes.
        assert!(Cli::try_parse_from(["shmimage", "--raw", "8x4:rgb8"]).is_err());
        let get =
            Cli::try_parse_from(["shmimage", "get", "out.png", "--native-key", "frames"]).unwrap();
        assert!(get.native.name().is_none());
        // Before the command, the window's native key is refused, not silently ignored: `get`
        // would read the key's segment instead.
        let misplaced =
            Cli::try_parse_from(["shmimage", "--native-key", "frames", "get", "out.png"]).unwrap();
        let err = run(&misplaced, &mut Vec::new()).unwrap_err().to_string();
        assert!(err.contains("after the command"), "{err}");
        // The shared options still go before it.
        let qt = Cli::try_parse_from(["shmimage", "--key", "k", "--qt", "info"]).unwrap();
        assert!(qt.qt && qt.key == "k" && qt.command.is_some());
        match get.command {
            Some(Command::Get { native, .. }) => assert_eq!(native.name(), Some("frames")),
            other => panic!("{other:?}"),
        }
    }
}
