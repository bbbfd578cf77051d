//! The compiled form of `hhttpp.wasm`, cached on disk so that start-up takes milliseconds rather
//! than the ~300 ms Cranelift needs to compile the component.
//!
//! The cache file is named by a hash of the exact embedded component bytes, of wasmtime's
//! compatibility key for this engine configuration, and of hhttpp's version, so a stale artifact
//! is never used. Loading one is native code, so only a regular file owned by the current user, in
//! a cache folder only that user can write, is ever loaded; it is written to a temporary name and
//! renamed into place. Anything unexpected (no cache folder, a corrupt or foreign file) falls
//! back to compiling in memory.

use std::hash::{DefaultHasher, Hash, Hasher};

use wasmtime::component::Component;
use wasmtime::{Engine, Result};

use crate::cache;

/// The component, from the cache when a trustworthy artifact is there, else compiled (and cached).
pub fn load(engine: &Engine, wasm: &[u8]) -> Result<Component> {
    let Some(folder) = cache::folder() else {
        return Component::new(engine, wasm);
    };
    let mut hasher = DefaultHasher::new();
    wasm.hash(&mut hasher);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    let path = folder.join(format!("hhttpp-{:016x}.cwasm", hasher.finish()));
    if cache::is_ours(&path, false) {
        // SAFETY: `deserialize_file` trusts the file to be wasmtime's own output. This one was
        // written by this program (atomically) into a folder only the current user can write,
        // is owned by that user and writable by no one else, and its name commits to the exact
        // component and engine, so it is the artifact `serialize` produced for them.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
            return Ok(component);
        }
    }
    let component = Component::new(engine, wasm)?;
    if let Ok(bytes) = component.serialize() {
        // Best effort: without a cached artifact the next start compiles again.
        let _ = cache::write_atomically(&path, &bytes, 0o644);
    }
    Ok(component)
}
