//! A real browser renders a listing from the real binary: headless Chromium (Debian's `chromium`,
//! installed by scripts/setup) loads the page; the test checks the rendered DOM — entries, order,
//! escaping — and saves screenshots under target/ for a person to look at.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use support::{Server, Site};

fn chromium(args: &[&str], url: &str) -> std::process::Output {
    // One profile per run: two Chromiums on one profile (tests run in parallel) lock each out.
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    let profile =
        std::env::temp_dir().join(format!("hhttpp-chromium-{}-{run}", std::process::id()));
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
fn chromium_shows_a_listing_with_its_archive_links() {
    let site = site();
    let server = Server::hhttpp_with(site.path(), &["--archives", "-q"]);
    let url = format!("http://127.0.0.1:{}/docs/", server.port);
    let output = chromium(&["--dump-dom"], &url);
    let dom = String::from_utf8_lossy(&output.stdout);
    for format in ["tar", "tar.gz", "zip"] {
        assert!(
            dom.contains(&format!(
                "<a class=\"download\" href=\"?download={format}\" download=\"\">{format}</a>"
            )),
            "{dom}"
        );
    }
    // What the links lead to, as the browser would fetch it.
    let zip = server.get("/docs/?download=zip");
    assert_eq!(zip.header("content-type"), Some("application/zip"));
    let path = screenshot("listing-archives.png", "900,400", &url, &[]);
    eprintln!("screenshot: {}", path.display());
}

/// A page that submits the upload form of the listing in its frame with two files, as a person
/// choosing them would (the browser encodes the form), then shows the page that answers.
const UPLOAD_PROBE: &str = r#"<!doctype html>
<title>upload probe</title>
<iframe id="listing" src="/docs/"></iframe>
<pre id="out"></pre>
<script>
const frame = document.getElementById("listing");
let step = 0;
frame.onload = () => {
  const doc = frame.contentDocument;
  if (step++ === 0) {
    const files = new DataTransfer();
    files.items.add(new File(["hello from chromium\n"], "hello.txt", {type: "text/plain"}));
    files.items.add(new File([new Uint8Array([0, 1, 2, 255])], "naïve \"quoted\".bin"));
    doc.querySelector("form.upload input[type=file]").files = files.files;
    doc.querySelector("form.upload").requestSubmit();
  } else {
    document.getElementById("out").textContent = doc.body.innerText;
  }
};
</script>
"#;

#[test]
fn chromium_uploads_two_files_through_the_listing_form() {
    let site = site();
    site.file("probe.html", UPLOAD_PROBE);
    let drop = Site::new();
    // With --archives too: the README's picture shows a listing with both.
    let args = ["--upload-dir", drop.path().to_str().unwrap(), "--archives"];
    let server = Server::hhttpp_with(site.path(), &args);
    let url = format!("http://127.0.0.1:{}/probe.html", server.port);
    // The second load (the form's answer) comes after the page's own: give it virtual time.
    let output = chromium(&["--virtual-time-budget=10000", "--dump-dom"], &url);
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(dom.contains("hello.txt — 20 bytes"), "{dom}");
    assert!(dom.contains("naïve \"quoted\".bin — 4 bytes"), "{dom}");
    assert_eq!(
        std::fs::read(drop.path().join("hello.txt")).unwrap(),
        b"hello from chromium\n"
    );
    assert_eq!(
        std::fs::read(drop.path().join("naïve \"quoted\".bin")).unwrap(),
        [0, 1, 2, 255]
    );
    let log = server.stderr_until("POST /docs/");
    assert!(
        log.iter()
            .any(|l| l.contains("\"POST /docs/ HTTP/1.1\" 201")
                && l.contains("stored \"hello.txt\" 20")),
        "{log:?}"
    );
    let listing = format!("http://127.0.0.1:{}/docs/", server.port);
    let path = screenshot("listing-upload.png", "900,420", &listing, &[]);
    eprintln!("screenshot: {}", path.display());
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

/// A page that frames the example site's home page and a listing, then writes into its own DOM
/// what the browser measured (Resource Timing: bytes on the wire against bytes decoded) and
/// rendered (the heading, the stylesheet's colour, the image's width).
const PROBE: &str = r#"<!doctype html>
<title>probe</title>
<iframe id="home" src="/"></iframe>
<iframe id="listing" src="/downloads/"></iframe>
<pre id="out"></pre>
<script>
let loaded = 0;
for (const frame of document.querySelectorAll("iframe")) {
  frame.onload = () => { if (++loaded === 2) report(); };
}
function report() {
  const lines = [];
  for (const frame of document.querySelectorAll("iframe")) {
    const perf = frame.contentWindow.performance;
    const page = perf.getEntriesByType("navigation")[0];
    lines.push(`page ${frame.id} ${page.encodedBodySize} ${page.decodedBodySize}`);
    lines.push(`protocol ${frame.id} ${page.nextHopProtocol}`);
    for (const r of perf.getEntriesByType("resource")) {
      lines.push(`resource ${new URL(r.name).pathname} ${r.encodedBodySize} ${r.decodedBodySize}`);
      lines.push(`protocol ${new URL(r.name).pathname} ${r.nextHopProtocol}`);
    }
  }
  const home = document.getElementById("home");
  const doc = home.contentDocument;
  lines.push(`h1 ${doc.querySelector("h1").textContent}`);
  lines.push(`accent ${home.contentWindow.getComputedStyle(doc.querySelector("header a")).color}`);
  lines.push(`img ${doc.querySelector("img").naturalWidth}`);
  lines.push(`listing ${document.getElementById("listing").contentDocument.querySelectorAll("li").length}`);
  document.getElementById("out").textContent = lines.join("\n");
}
</script>
"#;

/// Copies the folder `from` into `to`.
fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_folder(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Chromium's flag to trust the certificate of `server` (`--tls self-signed`) by the key's pin
/// its banner prints, as a person would by its fingerprint.
fn trust_by_pin(server: &Server) -> String {
    let banner = server.stdout_until("Public-key pin:");
    let pin = banner
        .iter()
        .find_map(|l| l.trim().strip_prefix("Public-key pin: sha256//"))
        .and_then(|rest| rest.split(' ').next())
        .expect("a pin")
        .to_owned();
    format!("--ignore-certificate-errors-spki-list={pin}")
}

/// What the probe page reported, once Chromium loaded it (with `args`) from `url`.
fn probe_report(args: &[&str], url: &str) -> String {
    let output = chromium(&[args, &["--dump-dom"]].concat(), url);
    let dom = String::from_utf8_lossy(&output.stdout);
    dom.split("<pre id=\"out\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn chromium_loads_the_example_site_over_http2_with_tls() {
    let site = Site::new();
    copy_folder(&support::example_site(), site.path());
    site.file("probe.html", PROBE);
    for engine in ["wasm", "native"] {
        let cache = Site::new();
        let args = [
            "0",
            "--bind",
            "127.0.0.1",
            "--tls",
            "self-signed",
            "--engine",
            engine,
        ];
        let server = Server::hhttpp_cached(cache.path(), site.path(), &args);
        let trust = trust_by_pin(&server);
        let url = format!("https://127.0.0.1:{}/probe.html", server.port);
        let report = probe_report(&[&trust], &url);
        let protocols: Vec<&str> = report
            .lines()
            .filter(|l| l.starts_with("protocol "))
            .collect();
        // The two pages and their stylesheet and image, at least, each over HTTP/2.
        assert!(protocols.len() >= 4, "{engine}: {report}");
        assert!(
            protocols.iter().all(|l| l.ends_with(" h2")),
            "{engine}: {report}"
        );
        assert!(
            report.contains("h1 Hello from hhttpp"),
            "{engine}: {report}"
        );
        assert!(
            report.contains("accent rgb(192, 57, 43)"),
            "{engine}: {report}"
        );
        assert!(report.contains("img 64"), "{engine}: {report}");
        assert!(report.contains("listing 2"), "{engine}: {report}");
        let log = server.stderr.lock().unwrap().clone();
        assert!(
            log.iter()
                .any(|l| l.contains("\"GET /style.css HTTP/2.0\" 200")),
            "{engine}: {log:?}"
        );
    }
}

#[test]
fn chromium_renders_the_example_site_compressed() {
    let site = Site::new();
    copy_folder(&support::example_site(), site.path());
    site.file("probe.html", PROBE);
    let server = Server::hhttpp(site.path());
    let url = format!("http://127.0.0.1:{}/probe.html", server.port);
    let report = probe_report(&[], &url);
    let dom = &report;
    let sizes = |prefix: &str| -> (u64, u64) {
        let line = report
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in {dom}"));
        let numbers: Vec<u64> = line
            .split(' ')
            .rev()
            .take(2)
            .map(|n| n.parse().unwrap())
            .collect();
        (numbers[1], numbers[0])
    };
    let example = support::example_site();
    let file_len = |name: &str| std::fs::metadata(example.join(name)).unwrap().len();
    // Compressed on the fly: fewer bytes on the wire than the browser decoded, and the decoded
    // page is the file, whole.
    let (wire, decoded) = sizes("page home ");
    assert!(wire < decoded, "home page compressed: {report}");
    assert_eq!(decoded, file_len("index.html"), "{report}");
    let (wire, decoded) = sizes("page listing ");
    assert!(wire < decoded, "listing compressed: {report}");
    // Stored style.css.gz, decoded to style.css; the PNG as it is.
    assert_eq!(
        sizes("resource /style.css "),
        (file_len("style.css.gz"), file_len("style.css")),
        "{report}"
    );
    let (wire, decoded) = sizes("resource /logo.png ");
    assert_eq!(
        (wire, decoded),
        (file_len("logo.png"), file_len("logo.png"))
    );
    // Rendered: the text, the stylesheet's accent colour, the image, the listing's entries.
    assert!(report.contains("h1 Hello from hhttpp"), "{report}");
    assert!(report.contains("accent rgb(192, 57, 43)"), "{report}");
    assert!(report.contains("img 64"), "{report}");
    assert!(report.contains("listing 2"), "{report}");
}

#[test]
fn chromium_opens_a_password_protected_https_share() {
    let cache = Site::new();
    let site = Site::new();
    site.file("index.html", "<p id=\"shared\">for ann</p>");
    let args = support::auth::OVER_TLS;
    let server = Server::hhttpp_cached(cache.path(), site.path(), &args);
    let trust = trust_by_pin(&server);
    let page = |credentials: &str| {
        let url = format!("https://{credentials}@127.0.0.1:{}/", server.port);
        let output = chromium(&[&trust, "--dump-dom"], &url);
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert!(page("ann:pw").contains("<p id=\"shared\">for ann</p>"));
    // With a wrong password Chromium gives up (net::ERR_INVALID_AUTH_CREDENTIALS).
    assert!(!page("ann:wrong").contains("for ann"));
    // Chromium asked without credentials (401), with ann's (200), then without and with the
    // wrong ones (401, 401): the page was let out once, to ann. (Its favicon requests come and go.)
    let page_fetches = |status: &str| {
        let lines = server.stderr.lock().unwrap().clone();
        // Over TLS Chromium speaks HTTP/2 (ALPN `h2`).
        let fetch = format!("\"GET / HTTP/2.0\" {status} ");
        lines
            .into_iter()
            .filter(|l| l.contains(&fetch))
            .collect::<Vec<_>>()
    };
    for _ in 0..200 {
        if page_fetches("401").len() >= 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert!(page_fetches("401").len() >= 3, "{:?}", server.stderr);
    let allowed = page_fetches("200");
    assert!(
        allowed.len() == 1 && allowed[0].contains(" - ann ["),
        "{allowed:?}"
    );
}
