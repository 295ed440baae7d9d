#![no_main]
//! Any text: the parser and the checks return, never panic or hang.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(df) = berth_dockerfile::parse(text) {
            for i in &df.instructions {
                let _ = berth_dockerfile::parser::dump(i);
                assert!(i.start_line >= 1 && i.start_line <= i.end_line);
            }
        }
        let _ = berth_dockerfile::check::check(text);
    }
});
