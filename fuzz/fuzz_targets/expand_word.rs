#![no_main]
//! Any word, with either escape token: expansion and splitting return, never panic or hang.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let env: Vec<(String, String)> = vec![
            ("PWD".into(), "/home".into()),
            ("EMPTY".into(), String::new()),
            ("SPACES".into(), " a  b ".into()),
        ];
        for escape in ['\\', '`'] {
            let lex = berth_dockerfile::Lex::new(escape);
            let _ = lex.process(text, &env);
        }
    }
});
