//! Issue 12: the HTML archive in a real browser. Headless Chromium (Debian's `chromium`, which
//! scripts/test.sh installs when missing) loads the page from a file, takes a screenshot, and
//! the test decodes the PNG: the counts bar and the metric curves are drawn where the first
//! screen and the curves section put them, and the browser logged no console error. The page
//! is parsed to its end (`--dump-dom`), and hostile values stay text in the parsed DOM.
//!
//! Without Chromium these tests say so loudly and pass, unless `LABTRAIL_REQUIRE_CHROMIUM` is
//! set (scripts/test.sh sets it): then a missing browser fails them.

mod archive_fixture;
mod common;
mod example_fixture;

use labtrail::report::archive::html::render;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The browser, or `None` (after a loud message) when it is absent and not required.
fn chromium(test: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("LABTRAIL_REQUIRE_CHROMIUM").is_none(),
            "LABTRAIL_REQUIRE_CHROMIUM is set but no chromium is on PATH (apt-get install chromium)"
        );
        eprintln!("\n*** SKIPPED {test}: no chromium on PATH; install Debian's `chromium` (scripts/test.sh does) ***\n");
    }
    found
}

/// Runs the browser on `page` with `args`, in its own profile folder, and waits for it
/// (generously: a loaded machine is slow to start a browser).
fn browse(bin: &Path, dir: &Path, page: &Path, args: &[&str]) -> Output {
    let child = Command::new(bin)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .args([
            "--force-color-profile=srgb",
            "--no-first-run",
            "--disable-extensions",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let id = child.id();
    let deadline = Instant::now() + Duration::from_secs(120);
    let watchdog = std::thread::spawn(move || {
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            // SAFETY: signal 0 only asks whether our own child still exists.
            if unsafe { libc::kill(id as i32, 0) } != 0 {
                return false;
            }
        }
        // SAFETY: kill(2) of our own child, which ran past the deadline.
        unsafe { libc::kill(id as i32, libc::SIGKILL) };
        true
    });
    let out = child.wait_with_output().expect("wait for chromium");
    assert!(!watchdog.join().unwrap(), "chromium ran for 120 s and was killed (a dialog, e.g. an alert() a value smuggled in, blocks it)");
    out
}

/// A decoded screenshot: RGB pixels, row by row.
struct Shot {
    width: usize,
    height: usize,
    rgb: Vec<[u8; 3]>,
}

impl Shot {
    fn load(path: &Path) -> Shot {
        let mut decoder = png::Decoder::new(std::fs::File::open(path).expect("screenshot"));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().expect("png header");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("png frame");
        let channels = info.color_type.samples();
        let rgb = buf[..info.buffer_size()]
            .chunks(channels)
            .map(|p| {
                if channels >= 3 {
                    [p[0], p[1], p[2]]
                } else {
                    [p[0]; 3]
                }
            })
            .collect();
        Shot {
            width: info.width as usize,
            height: info.height as usize,
            rgb,
        }
    }

    fn is(&self, x: usize, y: usize, colour: [u8; 3], tolerance: u8) -> bool {
        let p = self.rgb[y * self.width + x];
        (0..3).all(|i| p[i].abs_diff(colour[i]) <= tolerance)
    }

    /// The first row of `rows` holding a run of at least `len` pixels of `colour`.
    fn row_with_run(
        &self,
        colour: [u8; 3],
        len: usize,
        rows: std::ops::Range<usize>,
    ) -> Option<usize> {
        rows.into_iter().find(|&y| {
            let mut run = 0;
            (0..self.width).any(|x| {
                run = if self.is(x, y, colour, 2) { run + 1 } else { 0 };
                run >= len
            })
        })
    }

    /// Columns holding a pixel of one of `colours` (a drawn line spans many; a legend swatch
    /// 10) in rows `from..`, and the first such row.
    fn columns_with(
        &self,
        colours: &[[u8; 3]],
        tolerance: u8,
        from: usize,
    ) -> (usize, Option<usize>) {
        let mut first = None;
        let cols = (0..self.width)
            .filter(|&x| {
                (from..self.height).any(|y| {
                    let hit = colours.iter().any(|&c| self.is(x, y, c, tolerance));
                    if hit && first.is_none_or(|f| y < f) {
                        first = Some(y);
                    }
                    hit
                })
            })
            .count();
        (cols, first)
    }
}

/// The style's colours (light scheme, the headless default).
const DONE: [u8; 3] = [0x2e, 0x9e, 0x4f];
const FAILED: [u8; 3] = [0xd4, 0x3f, 0x3a];
/// The first series' colours: a task's curve may lie under another's, so any of them counts.
const SERIES: [[u8; 3]; 4] = [
    [0x1f, 0x77, 0xb4],
    [0xff, 0x7f, 0x0e],
    [0x2c, 0xa0, 0x2c],
    [0xd6, 0x27, 0x28],
];
const PREVIOUS: [u8; 3] = [0xb9, 0xc0, 0xc8];

/// Screenshots `page` and checks what every archive page must show: a counts bar in the first
/// screen, curves (and previous curves, when `previous`) drawn below it, no console error.
fn check_page(bin: &Path, dir: &Path, page: &Path, failed: bool, previous: bool) -> Shot {
    let png = dir.join("shot.png");
    let out = browse(
        bin,
        dir,
        page,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,2000",
            "--enable-logging=stderr",
            "--v=0",
        ],
    );
    let log = String::from_utf8_lossy(&out.stderr);
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    let shot = Shot::load(&png);
    assert_eq!((shot.width, shot.height), (1280, 2000));
    let bar = shot
        .row_with_run(DONE, 60, 0..shot.height)
        .expect("the counts bar's done part is drawn");
    assert!(
        bar < 400,
        "the counts bar is in the first screen (row {bar})"
    );
    if failed {
        // On the bar's own rows (the badge and the verdict's border are red too).
        let row = shot.row_with_run(FAILED, 3, bar..bar + 10);
        assert!(
            row.is_some(),
            "the counts bar's failed part is drawn beside the done part"
        );
    }
    let (cols, _) = shot.columns_with(&SERIES, 40, bar + 20);
    // The first series alone says where the curves start (the others' colours are near the
    // first screen's own: the counts bar, the badges).
    let (_, first) = shot.columns_with(&SERIES[..1], 40, bar + 20);
    assert!(cols >= 150, "a curve spans {cols} columns");
    assert!(
        first.unwrap() > bar + 100,
        "curves come after the first screen"
    );
    if previous {
        let (cols, _) = shot.columns_with(&[PREVIOUS], 8, bar + 20);
        assert!(cols >= 150, "a previous-run curve spans {cols} columns");
    }
    shot
}

/// The DOM Chromium parsed.
fn dump_dom(bin: &Path, dir: &Path, page: &Path) -> String {
    let out = browse(bin, dir, page, &["--dump-dom"]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Issue 12: a built archive (10 tasks, a failure, curves with the previous run's) is drawn in
/// Chromium: counts bar in the first screen, curves below, previous run in grey, no console
/// error, and the page parsed to its footer with no script in it.
#[test]
fn built_archive_renders_in_chromium() {
    let Some(bin) = chromium("built_archive_renders_in_chromium") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("archive.html");
    std::fs::write(&page, render(&archive_fixture::archive(10, 10, 500, true))).unwrap();
    check_page(&bin, dir.path(), &page, true, true);
    let dom = dump_dom(&bin, dir.path(), &page);
    assert!(
        dom.contains("id=\"verdict\"") && dom.contains("Archived by labtrail"),
        "{dom}"
    );
    assert!(!dom.to_ascii_lowercase().contains("<script"));
}

/// Issue 12: hostile values (quotes, `</pre>`, `<script>`) stay text in the DOM the browser
/// built: no script element, no attribute a value opened, and the page still parses to its end.
#[test]
fn hostile_values_stay_text_in_chromium() {
    let Some(bin) = chromium("hostile_values_stay_text_in_chromium") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("hostile.html");
    let a = archive_fixture::hostile(archive_fixture::archive(10, 10, 50, true));
    std::fs::write(&page, render(&a)).unwrap();
    let dom = dump_dom(&bin, dir.path(), &page);
    assert!(
        dom.contains("Archived by labtrail"),
        "the page parsed to its end"
    );
    assert!(
        !dom.to_ascii_lowercase().contains("<script"),
        "a value made a script element"
    );
    // Serialised markup writes `<`, `>` in text and `"`, `<`, `>` in attribute values as
    // entities, so every `<…>` is a real tag and every `"` in it delimits a value: outside the
    // values, no tag may hold the attribute a value tried to open.
    let mut rest = dom.as_str();
    while let Some(open) = rest.find('<') {
        let close = rest[open..].find('>').map_or(rest.len(), |c| open + c);
        let names: String = rest[open..close].split('"').step_by(2).collect();
        assert!(!names.contains("onmouseover"), "{}", &rest[open..close]);
        rest = &rest[close..];
    }
    assert!(dom.contains("&lt;script&gt;alert('pwned')&lt;/script&gt;"));
}

/// Issue 12: the archive of a real run of `examples/train`, written by `labtrail archive
/// --format html`, is drawn in Chromium (counts bar, curves, no console error).
#[test]
fn real_run_archive_renders_in_chromium() {
    let Some(bin) = chromium("real_run_archive_renders_in_chromium") else {
        return;
    };
    let exp = example_fixture::example();
    exp.run_ok(&["run", "exp.toml"]);
    if !example_fixture::has_archive_command(&exp) {
        return;
    }
    let page = exp.file("archive.html");
    exp.run_ok(&["archive", "--format", "html", "-o", page.to_str().unwrap()]);
    let dir = tempfile::tempdir().unwrap();
    check_page(&bin, dir.path(), &page, false, false);
}
