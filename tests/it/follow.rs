//! Follow across processes: `shmimage bench --follow` starts `shmimage stream` (a publisher at a
//! fixed rate, each frame's pixels a function of its index) and follows it in its own process,
//! checking every frame it gets. Counts are asserted, never durations.

use crate::util::Scratch;

/// Follows `endpoint` in this process: each image it announces is fetched, and its first pixel
/// sent to the receiver.
pub(crate) fn first_pixels_followed(
    endpoint: &shmimage::protocol::Endpoint,
) -> (
    shmimage::protocol::Follower,
    std::sync::mpsc::Receiver<[u8; 4]>,
) {
    let (seen_tx, seen) = std::sync::mpsc::channel();
    let fetching = endpoint.clone();
    let follower = shmimage::protocol::follow(endpoint, move |_| {
        if let Ok(fetched) = shmimage::protocol::fetch(&fetching) {
            let _ = seen_tx.send(fetched.image.get_pixel(0, 0).0);
        }
    })
    .unwrap();
    (follower, seen)
}

/// The number after `"field":` in a one-line JSON object.
fn field(json: &str, name: &str) -> u64 {
    let after = json
        .split_once(&format!("\"{name}\":"))
        .unwrap_or_else(|| panic!("no {name} in {json}"))
        .1;
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("{name} is no count in {json}"))
}

fn follow_bench(scratch: &Scratch, extra: &[&str]) -> String {
    let mut args = vec!["bench", "--follow", "--json"];
    args.extend_from_slice(extra);
    scratch.ok(&args)
}

#[test]
fn a_5_hz_stream_is_followed_with_no_generation_missed() {
    let scratch = Scratch::new("follow-5hz");
    let json = follow_bench(
        &scratch,
        &["--size", "64x48", "--rate", "5", "--seconds", "2"],
    );
    assert!(field(&json, "published") >= 8, "{json}");
    assert_eq!(field(&json, "skipped"), 0, "{json}");
    assert_eq!(
        field(&json, "delivered"),
        field(&json, "published"),
        "{json}"
    );
    assert_eq!(field(&json, "torn"), 0, "{json}");
    assert_eq!(field(&json, "out_of_order"), 0, "{json}");
}

/// A follower slower than the stream (it waits 25 ms a frame; the stream publishes every 5 ms)
/// skips to the newest frame instead of queueing, and every frame it does get is whole.
#[test]
fn a_fast_stream_is_followed_with_frames_skipped_but_every_frame_whole() {
    let scratch = Scratch::new("follow-fast");
    let json = follow_bench(
        &scratch,
        &[
            "--size",
            "320x240",
            "--rate",
            "200",
            "--seconds",
            "1.5",
            "--slow-ms",
            "25",
        ],
    );
    let (published, delivered) = (field(&json, "published"), field(&json, "delivered"));
    assert!(delivered >= 2, "{json}");
    assert!(field(&json, "skipped") > 0, "{json}");
    assert_eq!(delivered + field(&json, "skipped"), published, "{json}");
    assert_eq!(field(&json, "torn"), 0, "{json}");
    assert_eq!(field(&json, "out_of_order"), 0, "{json}");
}

/// Qt 6 mode is followed through file events on /dev/shm, Qt 5 mode (System V, no files) by
/// probing; both see every generation of a slow stream.
#[cfg(target_os = "linux")]
#[test]
fn qt_modes_are_followed_with_no_generation_missed() {
    for flag in ["--qt6", "--qt"] {
        let scratch = Scratch::new(&format!("follow{}", flag.len()));
        let json = follow_bench(
            &scratch,
            &["--size", "32x32", "--rate", "5", "--seconds", "1.6", flag],
        );
        assert!(field(&json, "published") >= 6, "{flag}: {json}");
        assert_eq!(field(&json, "skipped"), 0, "{flag}: {json}");
        assert_eq!(field(&json, "torn"), 0, "{flag}: {json}");
    }
}

/// A native object rewritten in place (as a camera or OpenCV writes its frames), in each
/// colour format: a slow stream is followed with every frame whole and none missed, and the
/// object is gone afterwards.
#[test]
fn a_native_object_rewritten_in_place_is_followed_whole() {
    let scratch = Scratch::new("follow-native");
    for format in ["bgr8", "rgba8"] {
        let json = follow_bench(
            &scratch,
            &[
                "--native-key",
                "--raw-format",
                format,
                "--size",
                "96x64",
                "--rate",
                "5",
                "--seconds",
                "1.6",
            ],
        );
        assert!(field(&json, "published") >= 6, "{format}: {json}");
        assert_eq!(
            field(&json, "delivered"),
            field(&json, "published"),
            "{format}: {json}"
        );
        assert_eq!(field(&json, "torn"), 0, "{format}: {json}");
        assert_eq!(field(&json, "kept_changing"), 0, "{format}: {json}");
    }
    #[cfg(target_os = "linux")]
    {
        let left: Vec<_> = std::fs::read_dir("/dev/shm")
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("shmimage-follow-")
            })
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}

/// `put --watch` publishes the file again when an editor saves it, by renaming a new file over
/// it or by rewriting it in place; a half-written file gets one note, and the last good image
/// stays shared until the file decodes again.
#[test]
fn put_watch_republishes_after_a_rename_and_an_in_place_rewrite() {
    use crate::util::{load, test_image};
    let scratch = Scratch::new("put-watch");
    let path = scratch.save("画.png", &test_image(20, 10, 1));
    let publisher = scratch.put(&path, &["--watch"]);
    let out = scratch.path("out.png");
    let shared = || {
        scratch.ok(&["get", out.to_str().unwrap()]);
        load(&out)
    };
    assert_eq!(shared(), test_image(20, 10, 1));

    // An atomic save: a new file renamed over the old one.
    let new_file = scratch.save("new.png", &test_image(24, 12, 2));
    std::fs::rename(&new_file, &path).unwrap();
    assert!(publisher.wait_for("republished").contains("24x12"));
    assert_eq!(shared(), test_image(24, 12, 2));

    // A half-written file (the first 60 bytes of a PNG): a note, and the old image stays.
    let png = std::fs::read(scratch.save("third.png", &test_image(30, 15, 3))).unwrap();
    std::fs::write(&path, &png[..60]).unwrap();
    let note = publisher.wait_for("note:");
    assert!(
        note.contains("does not decode") && note.contains("last good image"),
        "{note}"
    );
    assert_eq!(shared(), test_image(24, 12, 2));
    // The rest of the file: published, in place.
    std::fs::write(&path, &png).unwrap();
    assert!(publisher.wait_for("republished").contains("30x15"));
    assert_eq!(shared(), test_image(30, 15, 3));
    let later: Vec<String> = publisher.drain();
    assert!(
        later.iter().all(|l| !l.contains("note:")),
        "one note only: {later:?}"
    );
}

/// `put anim.gif` shares each frame at its delay, looping; a follower in another process gets
/// them in order (order and count are checked, never the delays' lengths).
#[test]
fn an_animated_gif_is_played_frame_by_frame_and_followed_in_order() {
    use shmimage::protocol::{Endpoint, SegmentDir};
    let colours: [[u8; 4]; 4] = [
        [255, 0, 0, 255],
        [0, 255, 0, 255],
        [0, 0, 255, 255],
        [255, 255, 255, 255],
    ];
    let scratch = Scratch::new("anim");
    let path = scratch.path("动画.gif");
    {
        let mut encoder =
            image::codecs::gif::GifEncoder::new(std::fs::File::create(&path).unwrap());
        for colour in colours {
            let frame = image::Frame::from_parts(
                image::RgbaImage::from_pixel(8, 6, image::Rgba(colour)),
                0,
                0,
                // Follow skips to the newest frame when it falls a frame behind: under Wine,
                // beside the other tests' processes, 150 ms frames were once too short for it.
                image::Delay::from_numer_denom_ms(300, 1),
            );
            encoder.encode_frame(frame).unwrap();
        }
    }
    let publisher = scratch.put(&path, &[]);
    assert!(
        publisher.first_line.contains("(animation)"),
        "{}",
        publisher.first_line
    );

    let endpoint = Endpoint::in_dir(&scratch.key, SegmentDir::at(scratch.seg_dir()).unwrap());
    let (_follower, seen) = first_pixels_followed(&endpoint);
    let mut order = Vec::new();
    while order.len() < 9 {
        let colour = seen
            .recv_timeout(crate::util::DEADLINE)
            .expect("a frame within the deadline");
        let index = colours
            .iter()
            .position(|c| *c == colour)
            .expect("one of the frames");
        if order.last() != Some(&index) {
            order.push(index);
        }
    }
    for pair in order.windows(2) {
        assert_eq!(pair[1], (pair[0] + 1) % 4, "frames out of order: {order:?}");
    }
    // After the first loop the count is known.
    assert!(publisher.wait_for("of 4").contains("frame"));
}
