//! `shmimage bench --sweep`: publish-to-fetch latency from 64 bytes to 64 MiB of pixels, in
//! powers of 4, for shmimage's own segments (raw), Qt 5's mode (Qt's PNG) and the copy floor
//! (the same bytes copied into a fresh mapping and out again), all in one run. Every point is
//! the median of `reps` runs, with the fastest and the slowest beside it. Writes a log-log plot
//! (SVG, drawn with plotters) and the figures (JSON).

use std::path::{Path, PathBuf};

use image::RgbaImage;
use plotters::prelude::*;

use super::bench::{BenchError, fetch_in_a_reader_process, pattern};
use crate::codec::Encoding;
use crate::protocol::{self, Endpoint, Mode};

/// The image sizes: square RGBA images from 4 × 4 (64 bytes) to 4096 × 4096 (64 MiB).
const SIDES: [u32; 11] = [4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

/// One series' point: the raw image's bytes and the latency's median and spread, in ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub bytes: u64,
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
}

pub struct Series {
    pub name: &'static str,
    pub points: Vec<Point>,
}

/// The median and spread of `samples` (not empty).
fn summary(bytes: u64, mut samples: Vec<f64>) -> Point {
    samples.sort_by(f64::total_cmp);
    let middle = samples.len() / 2;
    let median_ms = if samples.len() % 2 == 1 {
        samples[middle]
    } else {
        (samples[middle - 1] + samples[middle]) / 2.0
    };
    Point {
        bytes,
        median_ms,
        min_ms: samples[0],
        max_ms: samples[samples.len() - 1],
    }
}

/// Publish here, fetch in a reader process: the two totals, in ms.
fn latency(endpoint: &Endpoint, image: &RgbaImage, encoding: Encoding) -> Result<f64, BenchError> {
    let publication = protocol::publish(endpoint, image, encoding)?;
    let fetch = fetch_in_a_reader_process(endpoint)?;
    let publish_ms = publication.stages.total.as_secs_f64() * 1000.0;
    publication.withdraw();
    let fetch_ms = fetch
        .iter()
        .find(|(name, _)| name == "total")
        .map_or(0.0, |(_, ms)| *ms);
    Ok(publish_ms + fetch_ms)
}

/// Runs the sweep under `key` (with `-sweep-…` added) in `dir`.
pub fn run(
    endpoint: &Endpoint,
    reps: usize,
    mut progress: impl FnMut(&str),
) -> Result<Vec<Series>, BenchError> {
    let reps = reps.max(1);
    // Made once: a 64 MiB pattern takes longer to draw than to share.
    let images: Vec<RgbaImage> = SIDES.iter().map(|&side| pattern(side, side)).collect();
    let modes = [
        ("shmimage (raw)", Mode::Shmimage, Encoding::Raw),
        ("Qt 5 mode (Qt's PNG)", Mode::Qt5, Encoding::Png),
    ];
    let mut all = Vec::new();
    for (name, mode, encoding) in modes.into_iter().filter(|(_, mode, _)| mode.is_available()) {
        let key = format!("{}-sweep-{}", endpoint.key, mode.facts().id);
        let here = Endpoint::in_dir(&key, endpoint.dir.clone())
            .with_mode(mode)
            .with_options(endpoint.options.clone());
        let mut points = Vec::new();
        for image in &images {
            progress(&format!("{name}: {}x{}", image.width(), image.height()));
            let samples = (0..reps)
                .map(|_| latency(&here, image, encoding))
                .collect::<Result<Vec<f64>, _>>()?;
            points.push(summary(image.as_raw().len() as u64, samples));
        }
        all.push(Series { name, points });
    }
    let mut floor = Vec::new();
    for image in &images {
        progress(&format!("copy floor: {}x{}", image.width(), image.height()));
        let bytes = image.as_raw();
        let samples = (0..reps)
            .map(|_| {
                protocol::measure_copy_floor(&endpoint.dir, bytes)
                    .map(|(into, out)| (into + out).as_secs_f64() * 1000.0)
            })
            .collect::<Result<Vec<f64>, _>>()?;
        floor.push(summary(bytes.len() as u64, samples));
    }
    all.push(Series {
        name: "copy floor (one copy in, one out)",
        points: floor,
    });
    Ok(all)
}

/// The figures as JSON: the machine, the repetitions, and each series' points.
pub fn to_json(series: &[Series], machine: &str, reps: usize) -> String {
    let series: Vec<serde_json::Value> = series
        .iter()
        .map(|s| {
            let points: Vec<serde_json::Value> = s
                .points
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "bytes": p.bytes, "median_ms": p.median_ms,
                        "min_ms": p.min_ms, "max_ms": p.max_ms,
                    })
                })
                .collect();
            serde_json::json!({ "name": s.name, "points": points })
        })
        .collect();
    let value = serde_json::json!({ "machine": machine, "reps": reps, "series": series });
    format!("{value:#}\n")
}

/// iceoryx2's published zero-copy latency, about 0.1 µs flat from 64 B to 4 MB: their figure,
/// drawn for scale, not measured here.
const ICEORYX2_MS: f64 = 0.0001;

/// The log-log plot, as SVG, at `path`.
pub fn plot(series: &[Series], machine: &str, reps: usize, path: &Path) -> Result<(), String> {
    let failed = |err: &dyn std::fmt::Display| format!("cannot draw {}: {err}", path.display());
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| failed(&e))?;
    let caption = format!("publish-to-fetch latency, median of {reps} ({machine})");
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(
            (32f64..134_217_728f64).log_scale().with_key_points(vec![
                64.0,
                1024.0,
                16384.0,
                262_144.0,
                4_194_304.0,
                67_108_864.0,
            ]),
            (0.00005f64..10_000f64).log_scale(),
        )
        .map_err(|e| failed(&e))?;
    chart
        .configure_mesh()
        .x_desc("raw image size (bytes)")
        .y_desc("milliseconds")
        .x_label_formatter(&|bytes| protocol::human_bytes(*bytes as u64))
        .y_label_formatter(&|ms| format!("{ms}"))
        .draw()
        .map_err(|e| failed(&e))?;
    let colors = [
        RGBColor(30, 100, 200),
        RGBColor(200, 90, 30),
        RGBColor(90, 90, 90),
    ];
    for (s, color) in series.iter().zip(colors) {
        let line = s.points.iter().map(|p| (p.bytes as f64, p.median_ms));
        chart
            .draw_series(LineSeries::new(line, color.stroke_width(2)))
            .map_err(|e| failed(&e))?
            .label(s.name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        let spread = s.points.iter().map(|p| {
            let x = p.bytes as f64;
            PathElement::new(vec![(x, p.min_ms.max(0.00005)), (x, p.max_ms)], color)
        });
        chart.draw_series(spread).map_err(|e| failed(&e))?;
        let dots = s
            .points
            .iter()
            .map(|p| Circle::new((p.bytes as f64, p.median_ms), 3, color.filled()));
        chart.draw_series(dots).map_err(|e| failed(&e))?;
    }
    let reference = RGBColor(60, 160, 60);
    chart
        .draw_series(DashedLineSeries::new(
            [(64.0, ICEORYX2_MS), (4_194_304.0, ICEORYX2_MS)],
            6,
            4,
            reference.stroke_width(1),
        ))
        .map_err(|e| failed(&e))?
        .label("iceoryx2 zero-copy, ~0.1 µs (their published figure, not measured here)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], reference));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(|e| failed(&e))?;
    root.present().map_err(|e| failed(&e))
}

/// `shmimage bench --sweep`: runs, then writes `<out>.svg` and `<out>.json`, and says where.
pub(super) fn command(
    cli: &super::Cli,
    reps: usize,
    out_prefix: &Path,
    out: &mut dyn std::io::Write,
) -> Result<(), super::CliError> {
    let endpoint = Endpoint::in_dir(&format!("{}-bench", cli.key), super::segment_dir()?)
        .with_options(super::options_from_env());
    let series = run(&endpoint, reps, |step| log::info!("sweep: {step}"))?;
    let machine = machine();
    let svg: PathBuf = out_prefix.with_extension("svg");
    let json: PathBuf = out_prefix.with_extension("json");
    plot(&series, &machine, reps, &svg).map_err(super::CliError::Sweep)?;
    crate::output::replace_file(&json, |file| {
        std::io::Write::write_all(file, to_json(&series, &machine, reps).as_bytes())
    })
    .map_err(|err| super::CliError::Sweep(format!("cannot write {}: {err}", json.display())))?;
    for s in &series {
        let line: Vec<String> = s
            .points
            .iter()
            .map(|p| format!("{}={:.3}", protocol::human_bytes(p.bytes), p.median_ms))
            .collect();
        writeln!(out, "{}: {} (ms)", s.name, line.join(" ")).ok();
    }
    writeln!(out, "wrote {} and {}", svg.display(), json.display()).ok();
    Ok(())
}

/// The machine the figures come from: OS, architecture, cores.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{} {}, {cores} cores",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_is_the_median_and_the_spread() {
        let odd = summary(64, vec![3.0, 1.0, 2.0]);
        assert_eq!((odd.median_ms, odd.min_ms, odd.max_ms), (2.0, 1.0, 3.0));
        let even = summary(64, vec![4.0, 1.0, 2.0, 3.0]);
        assert_eq!(even.median_ms, 2.5);
        assert_eq!(u64::from(SIDES[0]).pow(2) * 4, 64);
        assert_eq!(u64::from(SIDES[10]).pow(2) * 4, 64 << 20);
    }
}
