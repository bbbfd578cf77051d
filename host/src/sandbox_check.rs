//! `hhttpp --check-sandbox`: asks a guest instance, configured exactly as for serving, what it can
//! reach, and reports it. The guest's probes bypass hhttpp's own path checks, so this shows what
//! the runtime's sandbox itself allows, on this machine, for this folder.

use std::path::Path;

use wasmtime::{Result, bail};

use crate::guest::Guests;

/// Escapes tried from inside the guest, relative to the served folder.
const ESCAPES: [&str; 6] = [
    "../etc/passwd",
    "../../../../../../../../etc/passwd",
    "/etc/passwd",
    "/../etc/hostname",
    "/proc/self/environ",
    "..",
];

/// Runs the check; `Ok` only when the sandbox is sealed.
pub async fn run(guests: &Guests, folder: &Path) -> Result<()> {
    let mut paths: Vec<String> = ESCAPES.iter().map(|p| (*p).to_owned()).collect();
    // Every link at the top of the folder is tried as a way out, to `/etc/passwd` through it.
    let mut control = None;
    for entry in std::fs::read_dir(folder)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_symlink() {
            paths.push(format!("{name}/etc/passwd"));
            paths.push(name);
        } else if kind.is_file() && control.is_none() {
            control = Some(name);
        }
    }
    if let Some(control) = &control {
        paths.push(control.clone());
    }
    let report = guests.probe_sandbox(&paths).await?;
    println!("Sandbox check for {}:", folder.display());
    let mut holes = 0;
    for path in &paths {
        let readable = report.readable.contains(path);
        let is_control = control.as_ref() == Some(path);
        let verdict = match (is_control, readable) {
            (true, true) => "readable (control: a file inside the folder)",
            (true, false) => {
                holes += 1;
                "NOT readable (control failed: the probe cannot be trusted)"
            }
            (false, true) => {
                holes += 1;
                "READABLE"
            }
            (false, false) => "denied",
        };
        println!("  {path:<40} {verdict}");
    }
    let mut facet = |name: &str, leaked: bool, ok: &str, bad: &str| {
        holes += usize::from(leaked);
        println!("  {name:<40} {}", if leaked { bad } else { ok });
    };
    facet(
        "environment variables",
        report.environment_variables > 0,
        "none",
        "VISIBLE",
    );
    facet("arguments", report.arguments > 0, "none", "VISIBLE");
    facet("stdin", report.stdin, "closed", "READABLE");
    facet(
        "network (bind 127.0.0.1)",
        report.network,
        "denied",
        "ALLOWED",
    );
    facet(
        "write into the folder",
        report.writable,
        "denied",
        "ALLOWED",
    );
    if holes > 0 {
        bail!("the sandbox is not sealed ({holes} findings above)");
    }
    if control.is_none() {
        println!("(no file at the top of the folder to use as a control)");
    }
    println!("sealed: the guest reached nothing beyond reading the served folder");
    Ok(())
}
