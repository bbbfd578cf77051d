//! A real browser renders a listing from the real binary: headless Chromium (Debian's `chromium`,
//! installed by scripts/setup) loads the page; the test checks the rendered DOM — entries, order,
//! escaping — and saves screenshots under target/ for a person to look at.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{Server, Site};

fn chromium(args: &[&str], url: &str) -> std::process::Output {
    let profile = std::env::temp_dir().join(format!("hhttpp-chromium-{}", std::process::id()));
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
        ])
        .args([
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium (installed by scripts/setup)");
    let _ = std::fs::remove_dir_all(profile);
    output
}

fn site() -> Site {
    let site = Site::new();
    site.file("docs/Zebra notes.txt", "z".repeat(5000))
        .file("docs/a <b>bold & more.txt", "x")
        .file("docs/café.txt", "c".repeat(1_500_000))
        .file("docs/photos/one.jpg", "j")
        .file("docs/Archive/old.txt", "o")
        .file("docs/.hidden", "h");
    site
}

fn screenshot(name: &str, size: &str, url: &str, extra: &[&str]) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_file(&path);
    let mut args = vec![
        format!("--screenshot={}", path.display()),
        format!("--window-size={size}"),
        "--hide-scrollbars".to_owned(),
    ];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = chromium(&args, url);
    let png = std::fs::read(&path)
        .unwrap_or_else(|_| panic!("no screenshot: {}", String::from_utf8_lossy(&output.stderr)));
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 5_000,
        "a real image"
    );
    path
}

#[test]
fn chromium_renders_the_listing() {
    let site = site();
    let server = Server::hhttpp(site.path());
    let url = format!("http://127.0.0.1:{}/docs/", server.port);
    let output = chromium(&["--dump-dom"], &url);
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        dom.contains("<h1>Directory listing for /docs/</h1>"),
        "{dom}"
    );
    // The entries as rendered, in order: folders first, then case-insensitive names.
    let names: Vec<&str> = dom
        .split("<li class=\"")
        .skip(1)
        .map(|li| {
            li.split("\">")
                .nth(2)
                .unwrap()
                .split("</a>")
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(
        names,
        [
            "Archive/",
            "photos/",
            ".hidden",
            "a &lt;b&gt;bold &amp; more.txt",
            "café.txt",
            "Zebra notes.txt"
        ],
        "{dom}"
    );
    // The hostile name is text, not markup: the browser built no <b> element from it.
    assert!(!dom.contains("<b>"), "{dom}");
    assert!(dom.contains("<span class=\"size\" data-bytes=\"1500000\">1.4 MiB</span>"));
    assert!(dom.contains("href=\"caf%C3%A9.txt\""));
    assert!(dom.contains("<a class=\"parent\" href=\"../\">"));

    let sorted = chromium(&["--dump-dom"], &format!("{url}?sort=size&order=desc"));
    let dom = String::from_utf8_lossy(&sorted.stdout);
    let cafe = dom.find("café.txt").unwrap();
    let zebra = dom.find("Zebra notes.txt").unwrap();
    assert!(
        cafe < zebra,
        "largest first when sorted by size, descending"
    );

    let desktop = screenshot("listing.png", "900,520", &url, &[]);
    screenshot(
        "listing-phone-dark.png",
        "390,700",
        &url,
        &[
            "--force-dark-mode",
            "--blink-settings=preferredColorScheme=0",
        ],
    );
    eprintln!("screenshots: {}", desktop.parent().unwrap().display());
}
