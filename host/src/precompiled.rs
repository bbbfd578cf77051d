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
use std::path::{Path, PathBuf};

use wasmtime::component::Component;
use wasmtime::{Engine, Result};

/// The component, from the cache when a trustworthy artifact is there, else compiled (and cached).
pub fn load(engine: &Engine, wasm: &[u8]) -> Result<Component> {
    let Some(folder) = cache_folder() else {
        return Component::new(engine, wasm);
    };
    let mut hasher = DefaultHasher::new();
    wasm.hash(&mut hasher);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    let path = folder.join(format!("hhttpp-{:016x}.cwasm", hasher.finish()));
    if is_ours(&path, false) {
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
        let temporary = folder.join(format!(
            ".{}.{}",
            std::process::id(),
            path.file_name().and_then(|n| n.to_str()).unwrap_or("x")
        ));
        if std::fs::write(&temporary, bytes).is_ok() && std::fs::rename(&temporary, &path).is_err()
        {
            let _ = std::fs::remove_file(&temporary);
        }
    }
    Ok(component)
}

/// `$XDG_CACHE_HOME/hhttpp` or `~/.cache/hhttpp`, created private if missing; `None` if it is not
/// a folder that only the current user can write.
fn cache_folder() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    let folder = base.join("hhttpp");
    if !folder.exists() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&folder)
                .ok()?;
        }
    }
    is_ours(&folder, true).then_some(folder)
}

/// Whether `path` is a folder (or a regular file) owned by the current user and writable by no
/// one else. Only checked on Linux; elsewhere the cache is not used.
fn is_ours(path: &Path, folder: bool) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let (Ok(meta), Ok(me)) = (
            std::fs::symlink_metadata(path),
            std::fs::metadata("/proc/self"),
        ) else {
            return false;
        };
        let kind_ok = if folder {
            meta.is_dir()
        } else {
            meta.is_file()
        };
        kind_ok && meta.uid() == me.uid() && meta.mode() & 0o022 == 0
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (path, folder);
        false
    }
}
