//! `hhttpp --check-sandbox`: asks guest instances, configured exactly as for serving (the held
//! folder as their one preopen, the same linker and limits), what they can reach, and reports
//! it. The guest's probes bypass hhttpp's own path checks, so this shows what the runtime's
//! sandbox itself allows, on this machine, for this folder.
//!
//! Each path is probed by its own instance on a thread of its own, with [`PROBE_TIMEOUT`]: a
//! probe opens what it tries, following links, and opening a FIFO waits for a writer. Links at
//! the top of the folder whose target is a FIFO, socket or device are not opened at all (the
//! host looks at the target without opening it), and a probe that still does not answer in time
//! is reported as undecided, so the check always ends.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use hhttpp::fs::Kind;
use rustix::fs::{AtFlags, FileType};
use wasmtime::{Result, bail};

use crate::guest::{Guests, SandboxReport};
use crate::root::ServedRoot;

/// Escapes tried from inside the guest, relative to the served folder.
const ESCAPES: [&str; 6] = [
    "../etc/passwd",
    "../../../../../../../../etc/passwd",
    "/etc/passwd",
    "/../etc/hostname",
    "/proc/self/environ",
    "..",
];

/// How long one probe may take before it is reported as undecided.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Links at the top of the folder tried at most (each is two probes): the check ends in minutes
/// at worst, however many a folder holds; the rest are counted and said to be unchecked.
const MAX_LINKS: usize = 64;

/// What one probed path came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Readable,
    Denied,
    /// The probe did not answer in time (opening something blocked).
    Undecided,
}

/// The paths to probe: the escapes, and through each link at the top of the folder. Links to
/// something that is neither a file nor a folder are named in `skipped`, not opened.
struct Plan {
    paths: Vec<String>,
    control: Option<String>,
    skipped: Vec<String>,
    /// Links beyond [`MAX_LINKS`], not tried.
    unchecked: usize,
}

/// Runs the check; `Ok` only when the sandbox is sealed.
pub fn run(guests: Arc<Guests>, root: &ServedRoot) -> Result<()> {
    let plan = plan(root)?;
    println!("Sandbox check for {}:", root.path().display());
    println!(
        "  served folder: opened once at start ({}); each sandbox is given that descriptor as \
         its only preopen, read-only, and the path is never opened again",
        root.identity()
    );
    if let Some(drop) = root.drop_folder() {
        println!(
            "  drop folder (--upload-dir): {}, opened once at start ({}); given to each sandbox \
             as a second preopen, the only writable one",
            drop.path().display(),
            drop.identity()
        );
    }
    println!(
        "  checked: reading escapes and every link at the top of the folder from inside a \
         guest (each probe within {PROBE_TIMEOUT:?}), the guest's environment, arguments, stdin, \
         network and writes"
    );
    let mut holes = 0;
    let mut undecided = 0;
    for path in &plan.paths {
        let is_control = plan.control.as_ref() == Some(path);
        let verdict = probe_path(&guests, path);
        let shown = match (is_control, verdict) {
            (true, Verdict::Readable) => "readable (control: a file inside the folder)",
            (true, _) => {
                holes += 1;
                "NOT readable (control failed: the probe cannot be trusted)"
            }
            (false, Verdict::Readable) => {
                holes += 1;
                "READABLE"
            }
            (false, Verdict::Denied) => "denied",
            (false, Verdict::Undecided) => {
                undecided += 1;
                "UNDECIDED (no answer: opening it blocked)"
            }
        };
        println!("  {path:<40} {shown}");
    }
    for name in &plan.skipped {
        println!("  {name:<40} not opened (a link to a FIFO, socket or device)");
    }
    if plan.unchecked > 0 {
        println!(
            "  ({} more links at the top of the folder not tried: {MAX_LINKS} are)",
            plan.unchecked
        );
    }
    let Some(report) = call(&guests, Vec::new()) else {
        bail!("the guest did not answer the check of its environment");
    };
    holes += report_facets(&report, root);
    if holes > 0 {
        bail!("the sandbox is not sealed ({holes} findings above)");
    }
    if undecided > 0 {
        bail!("{undecided} probes could not be decided (see above)");
    }
    if plan.control.is_none() {
        println!("(no file at the top of the folder to use as a control)");
    }
    match root.drop_folder() {
        Some(_) => println!(
            "sealed: the guest reached nothing beyond reading the served folder and writing the \
             drop folder"
        ),
        None => println!("sealed: the guest reached nothing beyond reading the served folder"),
    }
    Ok(())
}

/// What to probe, read from the held folder (not its path).
fn plan(root: &ServedRoot) -> Result<Plan> {
    let folder = root.folder()?;
    let mut plan = Plan {
        paths: ESCAPES.iter().map(|p| (*p).to_owned()).collect(),
        control: None,
        skipped: Vec::new(),
        unchecked: 0,
    };
    let mut links = 0;
    for entry in folder.entries()? {
        let Ok((name, kind)) = entry else {
            continue;
        };
        match kind {
            Kind::Link if links == MAX_LINKS => plan.unchecked += 1,
            Kind::Link => {
                links += 1;
                plan.paths.push(format!("{name}/etc/passwd"));
                if link_target_is_openable(root, &name) {
                    plan.paths.push(name);
                } else {
                    plan.skipped.push(name);
                }
            }
            Kind::File if plan.control.is_none() => plan.control = Some(name),
            _ => {}
        }
    }
    if let Some(control) = &plan.control {
        plan.paths.push(control.clone());
    }
    Ok(plan)
}

/// Whether the link `name` leads to a file or folder (looked at with `stat`, which opens
/// nothing), or to nothing at all: those are safe to try to open.
fn link_target_is_openable(root: &ServedRoot, name: &str) -> bool {
    let Ok(folder) = root.descriptor() else {
        return false;
    };
    match rustix::fs::statat(&folder, name, AtFlags::empty()) {
        Ok(stat) => matches!(
            FileType::from_raw_mode(stat.st_mode),
            FileType::RegularFile | FileType::Directory
        ),
        Err(_) => true,
    }
}

fn probe_path(guests: &Arc<Guests>, path: &str) -> Verdict {
    match call(guests, vec![path.to_owned()]) {
        Some(report) if report.readable.iter().any(|p| p == path) => Verdict::Readable,
        Some(_) => Verdict::Denied,
        None => Verdict::Undecided,
    }
}

/// Asks a fresh instance to probe `paths`, on a thread of its own: `None` if it gives no answer
/// within [`PROBE_TIMEOUT`] (the thread is left behind; the process ends after the check).
fn call(guests: &Arc<Guests>, paths: Vec<String>) -> Option<SandboxReport> {
    let (tx, rx) = mpsc::channel();
    let guests = guests.clone();
    let spawned = std::thread::Builder::new()
        .name("hhttpp-probe".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                let _ = tx.send(runtime.block_on(guests.probe_sandbox(&paths)));
            }
        });
    if spawned.is_err() {
        return None;
    }
    match rx.recv_timeout(PROBE_TIMEOUT) {
        Ok(Ok(report)) => Some(report),
        Ok(Err(error)) => {
            eprintln!("hhttpp: a probe failed: {error:#}");
            None
        }
        Err(_) => None,
    }
}

/// Prints what the guest could see of its environment; the number of holes found.
fn report_facets(report: &SandboxReport, root: &ServedRoot) -> usize {
    let mut holes = 0;
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
    // The drop folder of --upload-dir is the one place a guest may write; any other is a hole.
    let drop = hhttpp::Uploads::GUEST_NAME;
    let mut others = report.writable_preopens.iter().filter(|name| *name != drop);
    let other = others.next();
    facet(
        "write into another preopened folder",
        other.is_some(),
        "denied",
        "ALLOWED",
    );
    if root.drop_folder().is_some() {
        let drop_writable = report.writable_preopens.iter().any(|name| name == drop);
        println!(
            "  {:<40} {}",
            "write into the drop folder",
            if drop_writable {
                "allowed (as asked)"
            } else {
                "denied (uploads will fail)"
            }
        );
    }
    holes
}
