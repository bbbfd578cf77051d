//! A connection taking uploads (`--upload-dir`) fed arbitrary bytes, in two pieces: it must not
//! panic, must store files only under names that pass the name rules, write nothing outside the
//! drop folder, and, once the connection is gone, leave no partial file behind.
#![no_main]

mod common;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use hhttpp::http1::driver;
use hhttpp::responder::upload::name;
use hhttpp::responder::upload::receive::TEMP_PREFIX;
use hhttpp::{Config, Connection, Now, Uploads};

fn config() -> Arc<Config> {
    static CONFIG: OnceLock<Arc<Config>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let served = common::config();
            let drop = served.root.parent().unwrap().join("drop");
            let _ = std::fs::create_dir_all(&drop);
            let mut config = (*served).clone();
            config.options.uploads = Some(Uploads {
                dir: drop,
                max_size: 64 * 1024,
                served_at: None,
            });
            Arc::new(config)
        })
        .clone()
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let config = config();
    let inbox = config.options.uploads.as_ref().unwrap().dir.clone();
    let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let (first, second) = data.split_at(split);
    let now = Now::new(Duration::ZERO, SystemTime::now());
    let connection = Connection::new(config.clone(), now);
    drop(driver::run_to_wait(connection, [first, second], true, 64 * 1024, now));
    for entry in std::fs::read_dir(&inbox).unwrap() {
        let stored = entry.unwrap().file_name().into_string().unwrap();
        assert!(!stored.starts_with(TEMP_PREFIX), "a partial file left: {stored:?}");
        assert_eq!(name::checked(&stored).as_deref(), Ok(stored.as_str()), "stored as {stored:?}");
        std::fs::remove_file(inbox.join(&stored)).unwrap();
    }
    let outside = config.root.parent().unwrap().join("outside");
    assert_eq!(std::fs::read_dir(outside).unwrap().count(), 1, "written outside the drop folder");
});
