//! BuildKit's and moby's own test vectors (../shared/conformance beside the repository, or
//! $BERTH_CONFORMANCE_DIR): the parser dump of 33 Dockerfiles, 4 that must fail, the word
//! expansion cases and 72 .dockerignore cases. Under CI=true a missing folder is a failure.

use std::collections::HashMap;
use std::path::PathBuf;

use berth_dockerfile::parser::{dump, parse};
use berth_dockerfile::{DockerIgnore, Lex};

fn conformance_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("BERTH_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        });
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").is_err(),
        "conformance vectors missing at {} (required under CI)",
        dir.display()
    );
    eprintln!(
        "skipping: conformance vectors not found at {}",
        dir.display()
    );
    None
}

#[test]
fn buildkit_parser_cases_dump_exactly() {
    let Some(dir) = conformance_dir() else { return };
    let mut cases: Vec<_> = std::fs::read_dir(dir.join("dockerfile/testfiles"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    let mut failed = Vec::new();
    for case in &cases {
        let text = std::fs::read_to_string(case.join("Dockerfile")).unwrap();
        let expected = std::fs::read_to_string(case.join("result")).unwrap();
        let got = match parse(&text) {
            Ok(df) => df
                .instructions
                .iter()
                .map(|i| dump(i) + "\n")
                .collect::<String>(),
            Err(e) => format!("error: {e}\n"),
        };
        if got != expected {
            failed.push(format!(
                "{}:\n--- expected\n{expected}--- got\n{got}",
                case.display()
            ));
        }
    }
    println!(
        "BuildKit parser cases: {} passed, {} failed",
        cases.len() - failed.len(),
        failed.len()
    );
    assert_eq!(cases.len(), 33);
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn buildkit_negative_cases_fail() {
    let Some(dir) = conformance_dir() else { return };
    let mut n = 0;
    for e in std::fs::read_dir(dir.join("dockerfile/testfiles-negative")).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(p.join("Dockerfile")).unwrap();
        assert!(parse(&text).is_err(), "{} must be rejected", p.display());
        n += 1;
    }
    println!("BuildKit negative cases: {n} rejected");
    assert_eq!(n, 4);
}

#[test]
fn buildkit_env_var_cases() {
    let Some(dir) = conformance_dir() else { return };
    let text = std::fs::read_to_string(dir.join("dockerfile/envVarTest")).unwrap();
    let env: Vec<(String, String)> = [
        ("PWD", "/home"),
        ("SHELL", "bash"),
        ("KOREAN", "한국어"),
        ("NULL", ""),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let lex = Lex::default();
    let (mut pass, mut failed) = (0, Vec::new());
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('|').collect();
        assert_eq!(cols.len(), 3, "bad line {line:?}");
        let (mode, input, expected) = (cols[0].trim(), cols[1].trim(), cols[2].trim());
        if mode == "W" {
            continue;
        }
        let got = match lex.process_word(input, &env) {
            Ok(w) => w,
            Err(_) => "error".to_string(),
        };
        if got == expected {
            pass += 1;
        } else {
            failed.push(format!("{input:?}: expected {expected:?}, got {got:?}"));
        }
    }
    println!("envVarTest: {pass} passed, {} failed", failed.len());
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn buildkit_words_cases() {
    let Some(dir) = conformance_dir() else { return };
    let text = std::fs::read_to_string(dir.join("dockerfile/wordsTest")).unwrap();
    let mut env: Vec<(String, String)> = Vec::new();
    let lex = Lex::default();
    let (mut pass, mut failed) = (0, Vec::new());
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("ENV ") {
            let rest = rest.trim_start_matches(' ');
            let (k, v) = rest.split_once('=').unwrap();
            env.push((k.to_string(), v.to_string()));
            continue;
        }
        let (input, expected) = line.split_once('|').unwrap();
        let input = input.trim();
        let expected: Vec<&str> = expected.trim_start_matches(' ').split(',').collect();
        let got = lex.process_words(input, &env);
        let ok = match (&got, expected.as_slice()) {
            (Err(_), ["error"]) => true,
            (Ok(words), exp) => words.iter().map(String::as_str).eq(exp.iter().copied()),
            _ => false,
        };
        if ok {
            pass += 1;
        } else {
            failed.push(format!("{input:?}: expected {expected:?}, got {got:?}"));
        }
    }
    println!("wordsTest: {pass} passed, {} failed", failed.len());
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn moby_dockerignore_cases() {
    let Some(dir) = conformance_dir() else { return };
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("dockerignore/matches.json")).unwrap(),
    )
    .unwrap();
    let cases = v["cases"].as_array().unwrap();
    let mut failed = Vec::new();
    let mut cache: HashMap<String, DockerIgnore> = HashMap::new();
    for c in cases {
        let patterns: Vec<String> = c["patterns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect();
        let key = patterns.join("\u{0}");
        let m = cache
            .entry(key)
            .or_insert_with(|| DockerIgnore::from_patterns(&patterns).unwrap());
        let path = c["path"].as_str().unwrap();
        let want = c["excluded"].as_bool().unwrap();
        if m.excluded(path) != want {
            failed.push(format!("{patterns:?} {path:?}: expected excluded={want}"));
        }
    }
    println!(
        ".dockerignore cases: {} passed, {} failed",
        cases.len() - failed.len(),
        failed.len()
    );
    assert_eq!(cases.len(), 72);
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
