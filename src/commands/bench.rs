//! `shmimage bench`: a real publisher (this process) and a real reader (a child process), with
//! every stage timed, next to the memory-speed floor for the same bytes measured in the same run.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use image::RgbaImage;

use crate::codec::{self, Encoding};
use crate::protocol::{self, Endpoint, ShareError, Stages};

/// What can stop a benchmark run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Share(#[from] ShareError),
    #[error("cannot start the reader process ({program}): {source}")]
    StartReader {
        program: String,
        source: std::io::Error,
    },
    #[error("the reader process failed: {stderr}")]
    Reader { stderr: String },
}

impl From<crate::codec::CodecError> for BenchError {
    fn from(err: crate::codec::CodecError) -> Self {
        Self::Share(err.into())
    }
}

/// Stages as `name=milliseconds` pairs on one line: what the reader child prints.
pub fn stages_line(stages: &Stages) -> String {
    format!(
        "attach={} lock={} copy={} checksum={} decode={} total={}",
        ms(stages.attach),
        ms(stages.lock),
        ms(stages.copy),
        ms(stages.checksum),
        ms(stages.decode),
        ms(stages.total)
    )
}

fn ms(duration: Duration) -> String {
    format!("{:.3}", duration.as_secs_f64() * 1000.0)
}

fn parse_stages(line: &str) -> Option<Vec<(String, f64)>> {
    line.split_whitespace()
        .map(|pair| {
            let (name, value) = pair.split_once('=')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

pub struct BenchOptions {
    pub width: u32,
    pub height: u32,
    pub image: Option<PathBuf>,
    pub encoding: Encoding,
    pub json: bool,
}

/// A test pattern that is not trivially compressible (so PNG timings are honest).
pub fn pattern(width: u32, height: u32) -> RgbaImage {
    RgbaImage::from_fn(width, height, |x, y| {
        let noise = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) >> 13;
        image::Rgba([(x / 8) as u8, (y / 8) as u8, noise as u8 & 0x3f, 255])
    })
}

/// `shmimage bench`: under a key of its own beside the user's, in this project's own mode.
pub(super) fn command(
    cli: &super::Cli,
    options: &BenchOptions,
    out: &mut dyn std::io::Write,
) -> Result<(), super::CliError> {
    let endpoint = Endpoint::in_dir(&format!("{}-bench", cli.key), super::segment_dir()?)
        .with_options(super::options_from_env());
    write!(out, "{}", run(&endpoint, options)?).ok();
    Ok(())
}

/// The reader half of `bench`, in the child process: one fetch, its stages on one line.
pub(super) fn reader_command(
    cli: &super::Cli,
    out: &mut dyn std::io::Write,
) -> Result<(), super::CliError> {
    let fetched = protocol::fetch(&cli.endpoint()?)?;
    writeln!(out, "{}", stages_line(&fetched.stages)).ok();
    Ok(())
}

/// Publishes in this process, fetches in a second one (`bench-reader`, same key, directory and
/// options through the environment it inherits), and measures the copy floor for the same bytes.
pub fn run(endpoint: &Endpoint, options: &BenchOptions) -> Result<String, BenchError> {
    let image = match &options.image {
        Some(path) => codec::decode_file(path)?.image,
        None => pattern(options.width, options.height),
    };
    let publication = protocol::publish(endpoint, &image, options.encoding)?;
    let fetch = fetch_in_a_reader_process(endpoint)?;
    let measured = Measured {
        size: image.dimensions(),
        encoding: options.encoding,
        bytes: publication.segment_size,
        publish: publication.stages,
        fetch,
        floor: {
            publication.withdraw();
            protocol::measure_copy_floor(&endpoint.dir, image.as_raw())?
        },
    };
    Ok(if options.json {
        measured.to_json()
    } else {
        measured.to_table()
    })
}

/// The reader's half: `shmimage bench-reader` in a process of its own, its stages by name.
pub(super) fn fetch_in_a_reader_process(
    endpoint: &Endpoint,
) -> Result<Vec<(String, f64)>, BenchError> {
    let exe = std::env::current_exe().map_err(|source| BenchError::StartReader {
        program: "this program's path".to_owned(),
        source,
    })?;
    let output = crate::child::command(&exe)
        .args(["bench-reader", "--key", &endpoint.key])
        .args(endpoint.mode.args())
        .env(protocol::DIR_ENV, endpoint.dir.path())
        .output()
        .map_err(|source| BenchError::StartReader {
            program: exe.display().to_string(),
            source,
        })?;
    let reader_line = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    parse_stages(&reader_line)
        .filter(|_| output.status.success())
        .ok_or_else(|| BenchError::Reader {
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
}

/// One run's figures.
struct Measured {
    size: (u32, u32),
    encoding: Encoding,
    bytes: usize,
    publish: Stages,
    /// The reader's stages, by name, in ms.
    fetch: Vec<(String, f64)>,
    /// Copying the same bytes into a fresh mapping, and out to a fresh buffer.
    floor: (Duration, Duration),
}

impl Measured {
    fn fetch_ms(&self, name: &str) -> f64 {
        self.fetch
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0.0, |(_, v)| *v)
    }

    /// Publish, fetch and floor totals in ms, and their ratio.
    fn totals(&self) -> (f64, f64, f64, f64) {
        let publish_ms = self.publish.total.as_secs_f64() * 1000.0;
        let fetch_ms = self.fetch_ms("total");
        let floor_ms = (self.floor.0 + self.floor.1).as_secs_f64() * 1000.0;
        let ratio = (publish_ms + fetch_ms) / floor_ms;
        (publish_ms, fetch_ms, floor_ms, ratio)
    }

    fn to_json(&self) -> String {
        let ((width, height), encoding, bytes) = (self.size, self.encoding, self.bytes);
        let (publish_ms, fetch_ms, floor_ms, ratio) = self.totals();
        let (publish, value) = (&self.publish, |name| self.fetch_ms(name));
        format!(
            "{{\"width\":{width},\"height\":{height},\"encoding\":\"{encoding}\",\"bytes\":{bytes},\
             \"publish_ms\":{publish_ms:.3},\"fetch_ms\":{fetch_ms:.3},\"floor_ms\":{floor_ms:.3},\"ratio\":{ratio:.3},\
             \"publish\":{{\"encode_ms\":{},\"create_ms\":{},\"lock_ms\":{},\"copy_in_ms\":{}}},\
             \"fetch\":{{\"attach_ms\":{},\"lock_ms\":{},\"copy_out_ms\":{},\"checksum_ms\":{},\"decode_ms\":{}}},\
             \"floor\":{{\"copy_in_ms\":{},\"copy_out_ms\":{}}}}}",
            ms(publish.encode),
            ms(publish.create),
            ms(publish.lock),
            ms(publish.copy),
            value("attach"),
            value("lock"),
            value("copy"),
            value("checksum"),
            value("decode"),
            ms(self.floor.0),
            ms(self.floor.1)
        )
    }

    fn to_table(&self) -> String {
        let ((width, height), encoding, bytes) = (self.size, self.encoding, self.bytes);
        let (publish_ms, fetch_ms, floor_ms, ratio) = self.totals();
        let in_ms = |duration: Duration| duration.as_secs_f64() * 1000.0;
        let publish = &self.publish;
        let rows = [
            ("publish: encode", in_ms(publish.encode)),
            ("publish: create (reserve + map)", in_ms(publish.create)),
            ("publish: lock (held since create)", in_ms(publish.lock)),
            ("publish: copy in (+ checksum)", in_ms(publish.copy)),
            ("publish: total", publish_ms),
            ("fetch: attach", self.fetch_ms("attach")),
            ("fetch: lock", self.fetch_ms("lock")),
            ("fetch: copy out", self.fetch_ms("copy")),
            ("fetch: checksum", self.fetch_ms("checksum")),
            ("fetch: decode", self.fetch_ms("decode")),
            ("fetch: total (reader process)", fetch_ms),
            ("floor: copy into a fresh mapping", in_ms(self.floor.0)),
            ("floor: copy out to a fresh buffer", in_ms(self.floor.1)),
            ("floor: total", floor_ms),
        ];
        let mut out =
            format!("image {width}x{height}, encoding {encoding}, segment {bytes} bytes\n");
        let _ = writeln!(out, "{:<34}{:>10}", "stage", "ms");
        for (name, value) in rows {
            let _ = writeln!(out, "{name:<34}{value:>10.2}");
        }
        let _ = writeln!(out, "ratio (publish + fetch) / floor: {ratio:.2}");
        out
    }
}
