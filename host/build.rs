//! Builds the components and hands their paths to the host: `hhttpp.wasm` is embedded with
//! `include_bytes!`, so the `hhttpp` binary carries its sandboxed core inside it (one file to
//! install and run); `hhttpp-http.wasm`'s path is given to the integration tests.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir
        .parent()
        .expect("host/ lives in the workspace")
        .to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let target_dir = out_dir.join("component-target");
    for path in [
        "src",
        "cli",
        "wit",
        "component",
        "http",
        "Cargo.toml",
        "Cargo.lock",
        ".cargo/config.toml",
    ] {
        println!("cargo:rerun-if-changed={}", workspace.join(path).display());
    }

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&workspace)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip2",
            "-p",
            "hhttpp-component",
            "-p",
            "hhttpp-http",
        ])
        .arg("--target-dir")
        .arg(&target_dir);
    // The outer build's settings (clippy's wrapper, host rustflags, coverage) are not the guest's.
    for var in [
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
    ] {
        command.env_remove(var);
    }
    let status = command.status().expect("run cargo to build the component");
    if !status.success() {
        panic!(
            "building the components failed (is the target installed? \
             `rustup target add wasm32-wasip2`)"
        );
    }
    let release = target_dir.join("wasm32-wasip2/release");
    println!(
        "cargo:rustc-env=HHTTPP_COMPONENT={}",
        release.join("hhttpp_component.wasm").display()
    );
    println!(
        "cargo:rustc-env=HHTTPP_HTTP_COMPONENT={}",
        release.join("hhttpp_http.wasm").display()
    );
}
