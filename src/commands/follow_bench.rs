//! `shmimage bench --follow`: a `shmimage stream` child publishes frames at a fixed rate, and
//! this process follows it, checking every frame it gets (a torn one shows, see
//! `stream::Frames`) and timing how long each took from published to in its
//! hands.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::bench::BenchError;
use super::stream::{Frames, Motion};
use crate::codec::raw::{PixelFormat, RawShape};
use crate::protocol::journal::now_us;
use crate::protocol::{self, Endpoint};

/// `shmimage bench --follow`: the stream goes under a key of its own beside the user's.
pub(super) fn bench_follow_command(
    cli: &super::Cli,
    options: &FollowBenchOptions,
    out: &mut dyn Write,
) -> Result<(), super::CliError> {
    let endpoint = cli.endpoint()?;
    let mut endpoint = Endpoint::in_dir(&format!("{}-follow", cli.key), endpoint.dir.clone())
        .with_mode(endpoint.mode)
        .with_options(endpoint.options.clone());
    if let Some(format) = options.native_format {
        // A name of this run's own: an object of that name is never replaced.
        endpoint = endpoint.with_native_key(&format!("shmimage-follow-{}", std::process::id()));
        endpoint.raw = Some(RawShape {
            width: options.width,
            height: options.height,
            format,
            stride: options.width as usize * format.bytes_per_pixel(),
        });
    }
    write!(out, "{}", bench_follow(&endpoint, options)?).ok();
    Ok(())
}

pub struct FollowBenchOptions {
    pub width: u32,
    pub height: u32,
    pub rate: f64,
    pub seconds: f64,
    pub json: bool,
    /// Test seam: the follower also waits this long per frame, like a slow screen.
    pub slow_ms: u64,
    /// The publisher rewrites one native object in place, in this format (`--native-key`).
    pub native_format: Option<PixelFormat>,
}

/// What a follow benchmark saw.
#[derive(Debug, Default)]
pub struct FollowReport {
    pub published: u64,
    pub delivered: u64,
    pub skipped: u64,
    pub torn: u64,
    /// Fetches of a native key whose writer wrote during every copy: not shown, as Follow
    /// skips them.
    pub kept_changing: u64,
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
    let motion = Motion::of_stream(options.native_format.is_some());
    let mut frames = Frames::new(options.width, options.height, motion);
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
    // The frame's bytes as they are shared: in a native stream's pixel format.
    let bytes = match options.native_format {
        Some(format) => crate::codec::raw::from_rgba(&frames.base, format).0,
        None => frames.base.as_raw().clone(),
    };
    let (_, floor_out) = protocol::measure_copy_floor(&endpoint.dir, &bytes)?;
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
        let mut child = crate::child::command(&exe)
            .arg("stream")
            .args(["--key", &endpoint.key])
            .args(["--size", &format!("{}x{}", options.width, options.height)])
            .args(["--rate", &options.rate.to_string()])
            .args(["--seconds", &options.seconds.to_string()])
            .args(publisher_args(endpoint))
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

/// How the publisher writes: in place under the native key, or in the endpoint's mode.
fn publisher_args(endpoint: &Endpoint) -> Vec<String> {
    match (&endpoint.native_key, &endpoint.raw) {
        (Some(name), Some(shape)) => vec![
            "--native-key".to_owned(),
            name.clone(),
            "--raw-format".to_owned(),
            shape.format.name().to_owned(),
        ],
        _ => endpoint
            .mode
            .args()
            .iter()
            .map(|a| (*a).to_owned())
            .collect(),
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
        // News of the frame already fetched (it came during that fetch), as the window skips
        // the generation it shows: fetching it again would only start the next fetch late.
        if received
            .last()
            .is_some_and(|(shown, _)| *shown == generation)
        {
            continue;
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
        if fetched.may_be_torn {
            report.kept_changing += 1;
            continue;
        }
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
                 \"delivered\":{},\"skipped\":{},\"torn\":{},\"kept_changing\":{},\"out_of_order\":{},\"fetch_errors\":{},\
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
                self.kept_changing,
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
            let how = options.native_format.map_or(String::new(), |format| {
                format!(" {}, rewritten in place under a native key,", format.name())
            });
            let _ = writeln!(
                out,
                "stream {}x{}{how} at {} Hz for {} s, followed by this process",
                options.width, options.height, options.rate, options.seconds
            );
            let _ = writeln!(
                out,
                "published {}, delivered {}, skipped (replaced before they were fetched) {}, \
                 torn {}, changed during every copy (not shown) {}, out of order {}, \
                 failed fetches {}",
                self.published,
                self.delivered,
                self.skipped,
                self.torn,
                self.kept_changing,
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
