//! `hhttpp.wasm` under the `wasmtime` CLI: the component serves by itself, WASI-natively.
//! Needs `wasmtime` on PATH (the test command installs it; see scripts/setup).

mod support;

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Server, Site, example_site, read_response};

const COMPONENT: &str = env!("HHTTPP_COMPONENT");

fn wasmtime_run(dir: &std::path::Path, extra_flags: &[&str]) -> Command {
    let mut command = Command::new("wasmtime");
    command
        .arg("run")
        .args(extra_flags)
        .arg("--dir")
        .arg(dir)
        .arg(COMPONENT)
        .args(["--listen", "127.0.0.1:0"]);
    command
}

#[test]
fn serves_the_site_under_wasmtime_run() {
    let server = Server::spawn(wasmtime_run(&example_site(), &["-S", "inherit-network"]));
    let response = server.get("/about.html");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        response.body,
        std::fs::read(example_site().join("about.html")).unwrap()
    );
    assert_eq!(
        server.get("/").body,
        std::fs::read(example_site().join("index.html")).unwrap()
    );
    assert_eq!(server.get("/../../etc/passwd").status, 404);
    assert!(
        server
            .get("/downloads/")
            .text()
            .contains("shopping-list.txt")
    );
}

#[test]
fn a_relative_dir_is_served_as_typed() {
    let site = Site::new();
    site.file("hello.txt", "hello");
    let mut command = Command::new("wasmtime");
    command
        .current_dir(site.path().parent().unwrap())
        .args(["run", "-S", "inherit-network", "--dir"])
        .arg(format!(
            "./{}",
            site.path().file_name().unwrap().to_str().unwrap()
        ))
        .arg(COMPONENT)
        .args(["--listen", "127.0.0.1:0"]);
    let server = Server::spawn(command);
    assert_eq!(server.get("/hello.txt").text(), "hello");
}

#[test]
fn clients_are_served_concurrently_in_the_guest() {
    let server = Server::spawn(wasmtime_run(&example_site(), &["-S", "inherit-network"]));
    let mut stalled = server.connect();
    stalled
        .write_all(b"GET /about.html HTTP/1.1\r\nHost: a\r\n")
        .unwrap();
    let started = Instant::now();
    for _ in 0..3 {
        assert_eq!(server.get("/about.html").status, 200);
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    stalled.write_all(b"\r\n").unwrap();
    assert_eq!(read_response(&mut stalled, false).status, 200);
}

#[test]
fn without_network_permission_it_names_the_flag() {
    let output = wasmtime_run(&example_site(), &[])
        .output()
        .expect("run wasmtime");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("hhttpp: no network access") && first.contains("-S inherit-network"),
        "{stderr}"
    );
}
