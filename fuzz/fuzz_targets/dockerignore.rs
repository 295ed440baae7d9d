#![no_main]
//! Any .dockerignore text and path: compiling and matching return, never panic or hang.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let (patterns, path) = text.split_once('\u{0}').unwrap_or((text, "a/b/c.txt"));
        if let Ok(m) = berth_dockerfile::DockerIgnore::parse(patterns, ".dockerignore") {
            let _ = m.excluded(path);
        }
    }
});
