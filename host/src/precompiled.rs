//! The compiled form of `hhttpp.wasm`, cached on disk so that start-up takes milliseconds rather
//! than the ~300 ms Cranelift needs to compile the component.
//!
//! The cache file is named by a hash of the exact embedded component bytes, of wasmtime's
//! compatibility key for this engine configuration, and of hhttpp's version, so a stale artifact
//! is never used. Loading one is native code, so only a regular file owned by the current user,
//! writable by no one else, read through the cache folder held open ([`crate::cache`]) and then
//! loaded from memory, is ever used; it is written to a temporary name and renamed into place.
//! Anything unexpected (no cache folder, a corrupt or foreign file) falls back to compiling in
//! memory.

use std::hash::{DefaultHasher, Hash, Hasher};

use wasmtime::component::Component;
use wasmtime::{Engine, Result};

use crate::cache::CacheFolder;

/// The component, from the cache when a trustworthy artifact is there, else compiled (and cached).
pub fn load(engine: &Engine, wasm: &[u8]) -> Result<Component> {
    if let Some(component) = load_cached(engine, wasm) {
        return Ok(component);
    }
    let component = Component::new(engine, wasm)?;
    if let (Some(folder), Ok(bytes)) = (CacheFolder::open(), component.serialize()) {
        // Best effort: without a cached artifact the next start compiles again.
        let _ = folder.write_atomically(&artifact_name(engine, wasm), &bytes, 0o644);
    }
    Ok(component)
}

/// The component from the cache, if a trustworthy artifact is there.
pub fn load_cached(engine: &Engine, wasm: &[u8]) -> Option<Component> {
    let bytes = CacheFolder::open()?.read(&artifact_name(engine, wasm), false)?;
    // SAFETY: `deserialize` trusts the bytes to be wasmtime's own output. These were read,
    // through the folder held open and no link, from a file that this program wrote
    // (atomically) into a folder only the current user can write, owned by that user and
    // writable by no one else, whose name commits to the exact component and engine: the
    // artifact `serialize` produced for them.
    unsafe { Component::deserialize(engine, &bytes) }.ok()
}

/// The cache file's name, which commits to the component, the engine and hhttpp's version.
fn artifact_name(engine: &Engine, wasm: &[u8]) -> String {
    let mut hasher = DefaultHasher::new();
    wasm.hash(&mut hasher);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    format!("hhttpp-{:016x}.cwasm", hasher.finish())
}
