//! The end-to-end checks (ignored: they need ffmpeg): every track of every fixture written as an
//! init segment followed by all its media segments, sample bytes read by the runs, must decode
//! without an error and with as many frames as the track has samples; and the whole tree of
//! virtual objects written to disk must be read through `master.m3u8` and `manifest.mpd` by
//! ffmpeg's HLS and DASH demuxers, every sample of every track once.
//! `PACKAGE_E2E_DIR=/tmp/e2e cargo test --lib package::e2e -- --ignored --nocapture` keeps the
//! files.

use std::process::Command;
use std::time::Duration;

use super::fixtures::{FILES, parse};
use super::*;

/// Init segment and all segments of `track`, as a player would fetch them in turn.
fn stream(file: &[u8], track: &Track, seg: &Segmentation) -> Vec<u8> {
    let mut out = init_segment(track);
    for n in 1..=seg.count_for(track) {
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

/// Writes every virtual object of `name` under `dir` as the URL grammar names them.
fn write_tree(dir: &std::path::Path, name: &str) -> MediaIndex {
    let (file, index) = parse(name);
    let seg = Segmentation::new(&index, Duration::from_secs(2));
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("master.m3u8"), master_playlist(&index, &seg)).unwrap();
    std::fs::write(dir.join("manifest.mpd"), manifest(&index, &seg)).unwrap();
    for track in &index.tracks {
        let track_dir = dir.join(track.id.to_string());
        std::fs::create_dir_all(&track_dir).unwrap();
        std::fs::write(track_dir.join("index.m3u8"), media_playlist(track, &seg)).unwrap();
        std::fs::write(track_dir.join("init.mp4"), init_segment(track)).unwrap();
        for n in 1..=seg.count_for(track) {
            let segment = media_segment(track, &seg, n).unwrap();
            let mut bytes = segment.header;
            for (offset, len) in segment.runs {
                bytes.extend_from_slice(&file[offset as usize..(offset + len) as usize]);
            }
            std::fs::write(track_dir.join(format!("seg-{n}.m4s")), bytes).unwrap();
        }
    }
    index
}

#[test]
#[ignore = "needs ffmpeg and ffprobe"]
fn players_read_the_manifests() {
    let temp = tempfile::tempdir().unwrap();
    let root = std::env::var_os("PACKAGE_E2E_DIR").map_or(temp.path().to_owned(), std::path::PathBuf::from);
    for name in FILES {
        let dir = root.join(name.replace(".mp4", ""));
        let index = write_tree(&dir, name);
        for manifest in ["master.m3u8", "manifest.mpd"] {
            // Packets of each stream, as ffmpeg's HLS and DASH demuxers read them (ffprobe's
            // -count_frames misses one frame of the two-audio file through the DASH demuxer,
            // while ffmpeg decodes all 100).
            let mut counts: Vec<usize> = (0..index.tracks.len())
                .map(|i| {
                    let (out, errors) = run(Command::new("ffmpeg")
                        .args(["-v", "error", "-i"])
                        .arg(dir.join(manifest))
                        .args(["-map", &format!("0:{i}"), "-c", "copy", "-f", "framecrc", "-"]));
                    assert!(errors.trim().is_empty(), "{name} {manifest}: {errors}");
                    out.lines().filter(|l| !l.starts_with('#')).count()
                })
                .collect();
            let (_, errors) = run(Command::new("ffmpeg")
                .args(["-v", "error", "-i"])
                .arg(dir.join(manifest))
                .args(["-f", "null", "-"]));
            assert!(errors.trim().is_empty(), "{name} {manifest}: {errors}");
            let mut want: Vec<usize> = index.tracks.iter().map(|t| t.sample_count() as usize).collect();
            println!("{name} {manifest}: packets per stream {counts:?}");
            counts.sort();
            want.sort();
            assert_eq!(counts, want, "{name} {manifest}");
        }
    }
}
