//! `bench --sweep` and `lessons` from the command line, as a reader of the README runs them.

use crate::util::Scratch;

/// One repetition is enough to see the whole shape: a plot and figures for every size from
/// 64 bytes to 64 MiB, for each series, with the spread around each median.
#[test]
fn the_sweep_writes_a_log_log_plot_and_its_figures() {
    let scratch = Scratch::new("sweep");
    let prefix = scratch.path("sweep");
    let said = scratch.ok(&[
        "bench",
        "--sweep",
        "--reps",
        "1",
        "--out",
        prefix.to_str().unwrap(),
    ]);
    assert!(said.contains("wrote "), "{said}");
    let svg = std::fs::read_to_string(prefix.with_extension("svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("publish-to-fetch latency"),
        "{svg:.200}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(prefix.with_extension("json")).unwrap())
            .unwrap();
    let series = json["series"].as_array().unwrap();
    let names: Vec<&str> = series.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert!(
        names.contains(&"shmimage (raw)")
            && names.last() == Some(&"copy floor (one copy in, one out)"),
        "{names:?}"
    );
    for s in series {
        let points = s["points"].as_array().unwrap();
        assert_eq!(points.len(), 11, "{s}");
        assert_eq!(points[0]["bytes"], 64);
        assert_eq!(points[10]["bytes"], 64 << 20);
        for p in points {
            let (min, median, max) = (
                p["min_ms"].as_f64().unwrap(),
                p["median_ms"].as_f64().unwrap(),
                p["max_ms"].as_f64().unwrap(),
            );
            assert!(min <= median && median <= max && min > 0.0, "{p}");
        }
    }
    // Nothing of the sweep's keys is left in the segment directory.
    let left: Vec<_> = std::fs::read_dir(scratch.seg_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|name| name.to_string_lossy().ends_with(".seg"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// The handout in both languages, and a lesson run from a terminal.
#[test]
fn the_handout_prints_in_english_and_chinese_and_a_lesson_runs() {
    let scratch = Scratch::new("lessons-cli");
    let english = scratch.ok(&["lessons", "--markdown"]);
    assert_eq!(english.matches("\n## ").count(), 6, "{english}");
    assert!(!english.contains("Answer:"));
    let chinese = scratch.ok(&["lessons", "--answers", "--language", "zh-CN"]);
    assert!(
        chinese.contains("## 4. 文章里的缺陷") && chinese.contains("答案："),
        "{chinese}"
    );
    let ran = scratch.ok(&["lessons", "--run", "3"]);
    assert!(
        ran.contains(
            "that is answer (b): it waits, and reads the image once the lock is given back"
        ),
        "{ran}"
    );
    // What a run saw, in Chinese around the processes' own quoted English.
    let zh = scratch.ok(&["lessons", "--run", "3", "--language", "zh-CN"]);
    assert!(
        zh.contains("课程 3：等待")
            && zh.contains("观察到：第二个进程等待了 ")
            && zh.contains("这是答案 (b)：等待，锁被归还后读到图像"),
        "{zh}"
    );
    let none = scratch.fails(&["lessons", "--run", "7"]);
    assert!(
        none.contains("there is no lesson 7; the lessons are 1 to 6"),
        "{none}"
    );
}

/// Lesson 2's verdict comes from the picture the locked reader really got: with the lock
/// broken on purpose (writer and readers skip it), that reader copies mid-rewrite too, and the
/// lesson says the picture was torn.
#[test]
fn lesson_2_sees_a_torn_picture_once_the_lock_is_broken() {
    let scratch = Scratch::new("lesson-2");
    let kept = scratch.ok(&["lessons", "--run", "2"]);
    assert!(
        kept.contains("without the lock the reader copied at once and got the top 48 of 96 rows new and the rest old: a torn picture")
            && kept.contains("that is answer (a): the new picture, whole"),
        "{kept}"
    );
    let mut broken = scratch.cmd(&["lessons", "--run", "2"]);
    broken.env(shmimage::protocol::BREAK_LOCK_ENV, "1");
    let output = crate::util::run_with_deadline(broken);
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{said}");
    assert!(
        said.contains("that is answer (b): the top half new and the rest old: a torn picture"),
        "{said}"
    );
}
