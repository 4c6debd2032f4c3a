//! The end-to-end check (ignored: it needs ffmpeg): every track of every fixture written as an
//! init segment followed by all its media segments, sample bytes read by the runs, must decode
//! without an error and with as many frames as the track has samples.
//! `cargo test --lib package::e2e -- --ignored --nocapture`

use std::process::Command;
use std::time::Duration;

use super::fixtures::{FILES, parse};
use super::*;

/// Init segment and all segments of `track`, as a player would fetch them in turn.
fn stream(file: &[u8], track: &Track, seg: &Segmentation) -> Vec<u8> {
    let mut out = init_segment(track);
    for n in 1..=seg.count() {
        let segment = media_segment(track, seg, n).unwrap();
        out.extend_from_slice(&segment.header);
        for (offset, len) in segment.runs {
            out.extend_from_slice(&file[offset as usize..(offset + len) as usize]);
        }
    }
    out
}

fn run(cmd: &mut Command) -> (String, String) {
    let out = cmd.output().expect("ffmpeg installed");
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
#[ignore = "needs ffmpeg and ffprobe"]
fn every_frame_decodes() {
    // PACKAGE_E2E_DIR keeps the streams for a look with ffprobe.
    let temp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("PACKAGE_E2E_DIR").map_or(temp.path().to_owned(), std::path::PathBuf::from);
    for name in FILES {
        let (file, index) = parse(name);
        let seg = Segmentation::new(&index, Duration::from_secs(2));
        for track in &index.tracks {
            let path = dir.join(format!("{name}-{}.mp4", track.id));
            std::fs::write(&path, stream(&file, track, &seg)).unwrap();
            let (frames, _) = run(Command::new("ffprobe")
                .args(["-v", "error", "-count_frames", "-show_entries"])
                .args(["stream=nb_read_frames,codec_name,start_time", "-of", "compact"])
                .arg(&path));
            let (_, errors) =
                run(Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(&path).args(["-f", "null", "-"]));
            println!(
                "{name} track {}: {} segments, {} samples: {}",
                track.id,
                seg.count(),
                track.sample_count(),
                frames.trim()
            );
            assert!(
                frames.contains(&format!("nb_read_frames={}", track.sample_count())),
                "{name} track {}: {frames}",
                track.id
            );
            assert!(errors.trim().is_empty(), "{name} track {}: {errors}", track.id);
        }
    }
}
