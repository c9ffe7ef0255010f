//! A live stream through shared memory: `shmimage stream` publishes a moving test pattern at a
//! fixed rate (the demo of Follow, and the publisher of `bench --follow`), and `bench --follow`
//! follows it from a second process, checking every frame it gets and timing how long each took
//! from published to in the reader's hands.
//!
//! Each frame carries its index in its first pixels, and its pixels are a function of that
//! index (a white bar that moves 8 columns a frame over [`crate::commands::bench::pattern`]), so a reader
//! can tell a whole frame from a torn one without trusting the header's checksum.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use image::RgbaImage;

use crate::codec::Encoding;
use crate::commands::bench::BenchError;
use crate::protocol::journal::now_us;
use crate::protocol::{self, Endpoint, Publication, ShareError};

/// Width of the moving bar, and how far it moves per frame.
const BAR: u32 = 8;
/// Bytes at the start of the pixels that hold the frame index (two pixels).
const STAMP: usize = 8;

/// Frame `index` of a stream over `base`.
pub struct Frames {
    base: RgbaImage,
    frame: RgbaImage,
    bar_at: Option<u32>,
}

impl Frames {
    pub fn new(width: u32, height: u32) -> Self {
        let base = crate::commands::bench::pattern(width.max(4), height.max(1));
        Self {
            frame: base.clone(),
            base,
            bar_at: None,
        }
    }

    /// Frame `index`: the previous bar is undrawn and the new one drawn, so a frame costs a few
    /// columns, not a whole image.
    pub fn frame(&mut self, index: u64) -> &RgbaImage {
        if let Some(old) = self.bar_at.take() {
            for x in old..(old + BAR).min(self.base.width()) {
                for y in 0..self.base.height() {
                    self.frame.put_pixel(x, y, *self.base.get_pixel(x, y));
                }
            }
        }
        let at = bar_column(index, self.base.width());
        for x in at..(at + BAR).min(self.base.width()) {
            for y in 0..self.base.height() {
                self.frame
                    .put_pixel(x, y, image::Rgba([255, 255, 255, 255]));
            }
        }
        self.bar_at = Some(at);
        // The stamp is written last: it may cover bar pixels at column 0 or 1.
        self.frame.as_mut()[..STAMP].copy_from_slice(&index.to_le_bytes());
        &self.frame
    }

    /// The frame index a fetched image claims, if its pixels are exactly that frame. Checks
    /// every pixel up to 1 MP, and every 61st above (a torn frame differs in whole rows).
    pub fn check(&mut self, image: &RgbaImage) -> Result<u64, String> {
        if image.dimensions() != self.base.dimensions() {
            return Err(format!(
                "a {}x{} frame in a {}x{} stream",
                image.width(),
                image.height(),
                self.base.width(),
                self.base.height()
            ));
        }
        let mut stamp = [0u8; STAMP];
        stamp.copy_from_slice(&image.as_raw()[..STAMP]);
        let index = u64::from_le_bytes(stamp);
        let expected = self.frame(index);
        let step = if image.len() <= 4 * 1024 * 1024 {
            1
        } else {
            61
        };
        let differs = image
            .as_raw()
            .chunks_exact(4)
            .zip(expected.as_raw().chunks_exact(4))
            .step_by(step)
            .position(|(got, want)| got != want);
        match differs {
            None => Ok(index),
            Some(at) => Err(format!(
                "frame {index} differs at pixel {} (torn, or not this stream)",
                at * step
            )),
        }
    }
}

fn bar_column(index: u64, width: u32) -> u32 {
    ((index % u64::from(width.div_ceil(BAR))) * u64::from(BAR)) as u32
}

pub struct StreamOptions {
    pub width: u32,
    pub height: u32,
    pub rate: f64,
    /// Stop after this long; `None` runs until Ctrl-C or SIGTERM.
    pub seconds: Option<f64>,
    pub encoding: Encoding,
}

/// Publishes frames at `options.rate` until the time is up or a signal comes, printing for each
/// "published generation=G frame=I at_us=T" (T once the frame is readable). A frame that is due
/// while the previous one is still being published is published late, never twice: the stream
/// falls behind instead of bursting.
/// `shmimage bench --follow`: the stream goes under a key of its own beside the user's.
pub(super) fn bench_follow_command(
    cli: &super::Cli,
    options: &FollowBenchOptions,
    out: &mut dyn Write,
) -> Result<(), super::CliError> {
    let endpoint = cli.endpoint()?;
    let endpoint = Endpoint::in_dir(&format!("{}-follow", cli.key), endpoint.dir.clone())
        .with_mode(endpoint.mode)
        .with_options(endpoint.options.clone());
    write!(out, "{}", bench_follow(&endpoint, options)?).ok();
    Ok(())
}

pub fn run_stream(
    endpoint: &Endpoint,
    options: &StreamOptions,
    out: &mut dyn Write,
) -> Result<u64, ShareError> {
    let (stop_tx, stop_rx) = mpsc::channel();
    if let Err(err) = ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    }) {
        log::warn!("cannot catch Ctrl-C/SIGTERM ({err})");
    }
    let period = Duration::from_secs_f64(1.0 / options.rate.max(0.001));
    let until = options
        .seconds
        .map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let mut frames = Frames::new(options.width, options.height);
    let mut shown: Option<Publication> = None;
    let mut index = 0;
    let mut due = Instant::now();
    loop {
        let publication = protocol::publish(endpoint, frames.frame(index), options.encoding)?;
        let at = now_us();
        writeln!(
            out,
            "published generation={} frame={index} at_us={at}",
            publication.header.generation
        )
        .ok();
        out.flush().ok();
        // The new segment is readable: the old one can go.
        if let Some(old) = shown.replace(publication) {
            old.withdraw();
        }
        index += 1;
        // Each frame stays up for its period, the last one too.
        due = (due + period).max(Instant::now());
        let wait = due.saturating_duration_since(Instant::now());
        if stop_rx.recv_timeout(wait).is_ok() || until.is_some_and(|until| due >= until) {
            break;
        }
    }
    if let Some(last) = shown {
        last.withdraw();
    }
    writeln!(out, "stopped after {index} frames").ok();
    Ok(index)
}

pub struct FollowBenchOptions {
    pub width: u32,
    pub height: u32,
    pub rate: f64,
    pub seconds: f64,
    pub json: bool,
    /// Test seam: the follower also waits this long per frame, like a slow screen.
    pub slow_ms: u64,
}

/// What a follow benchmark saw.
#[derive(Debug, Default)]
pub struct FollowReport {
    pub published: u64,
    pub delivered: u64,
    pub skipped: u64,
    pub torn: u64,
    pub out_of_order: u64,
    /// Fetches that failed (withdrawn between the news and the fetch, or refused as damaged).
    pub fetch_errors: u64,
    /// Publish (readable) to fetched (in this process's memory), per delivered frame.
    pub latencies_ms: Vec<f64>,
    pub fetch_ms: Vec<f64>,
    pub floor_ms: f64,
    pub rss_start_mb: Option<f64>,
    pub rss_end_mb: Option<f64>,
    pub first_error: Option<String>,
}

/// `shmimage bench --follow`: starts `shmimage stream` as a child process and follows it here.
pub fn bench_follow(
    endpoint: &Endpoint,
    options: &FollowBenchOptions,
) -> Result<String, BenchError> {
    let mut frames = Frames::new(options.width, options.height);
    let (news_tx, news) = mpsc::channel();
    let _follower = protocol::follow(endpoint, move |followed| match followed {
        Ok(generation) => {
            let _ = news_tx.send(generation);
        }
        Err(sentence) => log::error!("{sentence}"),
    })?;
    let mut publisher = StreamProcess::start(endpoint, options)?;
    let mut report = FollowReport {
        rss_start_mb: resident_mb(),
        ..FollowReport::default()
    };
    let received = follow_stream(
        endpoint,
        options,
        &mut frames,
        &news,
        &mut publisher,
        &mut report,
    );
    let published = publisher.finish()?;
    report.published = published.len() as u64;
    for (generation, at) in &received {
        if let Some(published_at) = published.get(generation) {
            report.delivered += 1;
            report
                .latencies_ms
                .push(at.saturating_sub(*published_at) as f64 / 1e3);
        }
    }
    report.skipped = report.published - report.delivered;
    report.rss_end_mb = resident_mb();
    let bytes = frames.base.as_raw();
    let (_, floor_out) = protocol::measure_copy_floor(&endpoint.dir, bytes)?;
    report.floor_ms = floor_out.as_secs_f64() * 1e3;
    Ok(report.render(options))
}

/// The `shmimage stream` child, and its lines: when each generation became readable.
struct StreamProcess {
    child: std::process::Child,
    program: String,
    lines: std::thread::JoinHandle<()>,
    published: mpsc::Receiver<(u64, u64)>,
}

impl StreamProcess {
    fn start(endpoint: &Endpoint, options: &FollowBenchOptions) -> Result<Self, BenchError> {
        let exe = std::env::current_exe().map_err(|source| BenchError::StartReader {
            program: "this program's path".to_owned(),
            source,
        })?;
        let program = exe.display().to_string();
        let mut child = Command::new(&exe)
            .arg("stream")
            .args(["--key", &endpoint.key])
            .args(["--size", &format!("{}x{}", options.width, options.height)])
            .args(["--rate", &options.rate.to_string()])
            .args(["--seconds", &options.seconds.to_string()])
            .args(endpoint.mode.args())
            .env(protocol::DIR_ENV, endpoint.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| BenchError::StartReader {
                program: program.clone(),
                source,
            })?;
        let stdout = child.stdout.take();
        let (published_tx, published) = mpsc::channel();
        let lines = std::thread::spawn(move || {
            let lines = stdout
                .into_iter()
                .flat_map(|out| BufReader::new(out).lines());
            for line in lines.map_while(Result::ok) {
                let field = |name: &str| {
                    line.split_whitespace()
                        .find_map(|f| f.strip_prefix(name))
                        .and_then(|v| v.parse::<u64>().ok())
                };
                if let (Some(generation), Some(at)) = (field("generation="), field("at_us=")) {
                    let _ = published_tx.send((generation, at));
                }
            }
        });
        Ok(Self {
            child,
            program,
            lines,
            published,
        })
    }

    fn has_ended(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_some()
    }

    /// Waits for the stream to end: when each generation was published, or what it said on
    /// failing.
    fn finish(mut self) -> Result<HashMap<u64, u64>, BenchError> {
        let status = self
            .child
            .wait()
            .map_err(|source| BenchError::StartReader {
                program: self.program.clone(),
                source,
            })?;
        let _ = self.lines.join();
        if !status.success() {
            let mut stderr = String::new();
            if let Some(mut err) = self.child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut err, &mut stderr);
            }
            return Err(BenchError::Reader {
                stderr: stderr.trim().to_owned(),
            });
        }
        Ok(self.published.try_iter().collect())
    }
}

/// Fetches the newest frame at each piece of news until the stream ends, checking every frame;
/// returns when each generation was in this process's hands.
fn follow_stream(
    endpoint: &Endpoint,
    options: &FollowBenchOptions,
    frames: &mut Frames,
    news: &mpsc::Receiver<u64>,
    publisher: &mut StreamProcess,
    report: &mut FollowReport,
) -> Vec<(u64, u64)> {
    let mut received: Vec<(u64, u64)> = Vec::new();
    let mut last_index = None;
    let stream_ends = Instant::now() + Duration::from_secs_f64(options.seconds) + STARTUP;
    loop {
        let left = stream_ends.saturating_duration_since(Instant::now());
        let mut generation = match news.recv_timeout(left.min(Duration::from_millis(200))) {
            Ok(generation) => generation,
            // Quiet: done once the publisher has ended (its last frame was fetched already).
            Err(_) if left.is_zero() || publisher.has_ended() => return received,
            Err(_) => continue,
        };
        // Only the newest counts: what was replaced meanwhile is skipped, not queued.
        while let Ok(newer) = news.try_recv() {
            generation = newer;
        }
        let started = Instant::now();
        let fetched = match protocol::fetch_retrying(|| protocol::fetch(endpoint)) {
            Ok(fetched) => fetched,
            // Withdrawn between the news and the fetch: the next news follows.
            Err(err) => {
                log::debug!("generation {generation}: {err}");
                report.fetch_errors += 1;
                continue;
            }
        };
        let at = now_us();
        report.fetch_ms.push(started.elapsed().as_secs_f64() * 1e3);
        match frames.check(&fetched.image) {
            Ok(index) => {
                if last_index.is_some_and(|last| index < last) {
                    report.out_of_order += 1;
                }
                last_index = Some(index);
                if !received
                    .iter()
                    .any(|(g, _)| *g == fetched.header.generation)
                {
                    received.push((fetched.header.generation, at));
                }
            }
            Err(error) => {
                report.torn += 1;
                report.first_error.get_or_insert(error);
            }
        }
        if options.slow_ms > 0 {
            std::thread::sleep(Duration::from_millis(options.slow_ms));
        }
    }
}

/// Time allowed for the publisher process to start (most of a second under Wine).
const STARTUP: Duration = Duration::from_secs(5);

/// This process's resident memory, in MB (Linux; elsewhere unknown).
fn resident_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

impl FollowReport {
    fn render(&self, options: &FollowBenchOptions) -> String {
        let lat = |p| percentile(&self.latencies_ms, p);
        let max = self.latencies_ms.iter().copied().fold(0.0, f64::max);
        let fetch = percentile(&self.fetch_ms, 50.0);
        let rss = |v: Option<f64>| v.map_or("null".to_owned(), |v| format!("{v:.1}"));
        let mut out = String::new();
        if options.json {
            let _ = write!(
                out,
                "{{\"width\":{},\"height\":{},\"rate_hz\":{},\"seconds\":{},\"published\":{},\
                 \"delivered\":{},\"skipped\":{},\"torn\":{},\"out_of_order\":{},\"fetch_errors\":{},\
                 \"latency_ms\":{{\"p50\":{:.3},\"p99\":{:.3},\"max\":{:.3}}},\
                 \"fetch_p50_ms\":{fetch:.3},\"floor_ms\":{:.3},\
                 \"rss_start_mb\":{},\"rss_end_mb\":{},\"first_error\":{}}}",
                options.width,
                options.height,
                options.rate,
                options.seconds,
                self.published,
                self.delivered,
                self.skipped,
                self.torn,
                self.out_of_order,
                self.fetch_errors,
                lat(50.0),
                lat(99.0),
                max,
                self.floor_ms,
                rss(self.rss_start_mb),
                rss(self.rss_end_mb),
                self.first_error
                    .as_ref()
                    .map_or("null".to_owned(), |e| format!("{e:?}")),
            );
        } else {
            let _ = writeln!(
                out,
                "stream {}x{} at {} Hz for {} s, followed by this process",
                options.width, options.height, options.rate, options.seconds
            );
            let _ = writeln!(
                out,
                "published {}, delivered {}, skipped (replaced before they were fetched) {}, \
                 torn {}, out of order {}, failed fetches {}",
                self.published,
                self.delivered,
                self.skipped,
                self.torn,
                self.out_of_order,
                self.fetch_errors
            );
            let _ = writeln!(
                out,
                "latency (readable -> in this process) ms: p50 {:.2}, p99 {:.2}, max {:.2}",
                lat(50.0),
                lat(99.0),
                max
            );
            let _ = writeln!(
                out,
                "fetch p50 {fetch:.2} ms; floor (copy the frame out of a mapping) {:.2} ms",
                self.floor_ms
            );
            let _ = writeln!(
                out,
                "resident memory: {} MB at the start, {} MB at the end",
                rss(self.rss_start_mb),
                rss(self.rss_end_mb)
            );
            if let Some(error) = &self.first_error {
                let _ = writeln!(out, "first torn frame: {error}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_checks_as_its_own_index_and_a_torn_one_does_not() {
        let mut frames = Frames::new(64, 16);
        let seventh = frames.frame(7).clone();
        let third = frames.frame(3).clone();
        let mut checker = Frames::new(64, 16);
        assert_eq!(checker.check(&seventh), Ok(7));
        assert_eq!(checker.check(&third), Ok(3));
        // The top half of frame 7 over the bottom half of frame 3: what a torn copy looks like.
        let mut torn = third.clone();
        torn.as_mut()[..seventh.len() / 2].copy_from_slice(&seventh.as_raw()[..seventh.len() / 2]);
        assert!(checker.check(&torn).unwrap_err().contains("differs"));
        assert!(checker.check(&Frames::new(8, 8).frame(1).clone()).is_err());
    }
}
