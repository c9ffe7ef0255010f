//! Start-up only: parse the command line, run a command or open the window, print one error line.

// A double-clicked window opens no console on Windows; commands attach to their terminal's.
#![cfg_attr(all(windows, feature = "gui"), windows_subsystem = "windows")]

use std::process::ExitCode;

use clap::Parser;
use shmimage::commands::{self, Cli};

fn main() -> ExitCode {
    shmimage::attach_parent_console();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    shmimage::panics::quiet_when_caught();
    let cli = Cli::parse();
    match commands::run(&cli, &mut std::io::stdout()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => open_window(&cli),
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(feature = "gui")]
fn open_window(cli: &Cli) -> ExitCode {
    let start = shmimage::gui::Start {
        key: cli.key.clone(),
        mode: cli.mode(),
        image: cli.image.clone(),
        dir: commands::segment_dir().map_err(|err| err.to_string()),
        options: commands::options_from_env(),
        program: std::env::current_exe().unwrap_or_else(|_| "shmimage".into()),
        report_dir: std::env::var_os(if cfg!(windows) { "USERPROFILE" } else { "HOME" })
            .map_or_else(std::env::temp_dir, Into::into),
        language: shmimage::gui::Language::of_system(),
        command_line: shmimage::gui::settings::CommandLineChoices {
            key: cli.key != shmimage::protocol::DEFAULT_KEY,
            mode: cli.qt || cli.qt6,
            follow: cli.follow,
        },
        native_key: cli.native.name().map(str::to_owned),
        raw_shape: cli.native.shape_text(),
        position: cli.window_at,
    };
    match shmimage::gui::run(start) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let sentence =
                shmimage::gui::cannot_open(&err.to_string(), shmimage::platform::Os::current());
            eprintln!("error: {sentence}");
            shmimage::gui::tell_cannot_open(&sentence);
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "gui"))]
fn open_window(_cli: &Cli) -> ExitCode {
    use clap::CommandFactory;
    eprintln!("this build has no window (built without the `gui` feature); use a command:\n");
    let _ = Cli::command().print_help();
    ExitCode::FAILURE
}
