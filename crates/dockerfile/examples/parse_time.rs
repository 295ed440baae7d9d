//! Parse time of large Dockerfiles (median of 21 runs):
//! `cargo run --release -p berth-dockerfile --example parse_time`

use std::time::Instant;

/// 10,000 instructions of the usual kinds.
pub fn ten_thousand_instructions() -> String {
    let mut s =
        String::from("# syntax=docker/dockerfile:1\nARG BASE=debian:12\nFROM ${BASE} AS build\n");
    let mut n = 3;
    while n < 10_000 {
        match n % 8 {
            0 => s.push_str("RUN apt-get update && \\\n    apt-get install -y --no-install-recommends curl ca-certificates && \\\n    rm -rf /var/lib/apt/lists/*\n"),
            1 => s.push_str(&format!("ENV PATH=/opt/app{n}/bin:$PATH LANG=C.UTF-8 NAME=\"value {n}\"\n")),
            2 => s.push_str(&format!("COPY --chown=1000:1000 --chmod=0644 src/{n} /app/src/{n}\n")),
            3 => s.push_str("RUN --mount=type=cache,target=/root/.cache pip install -r requirements.txt\n"),
            4 => s.push_str(&format!("LABEL org.example.n{n}=\"{n}\" maintainer=\"team\"\n")),
            5 => s.push_str("RUN <<EOF\nset -e\necho hello\nEOF\n"),
            6 => s.push_str("WORKDIR /app\n"),
            _ => s.push_str("CMD [\"python\", \"-m\", \"app\"]\n"),
        }
        n += 1;
    }
    s
}

/// About 1 MB in one instruction spread over 100,000 continuation lines.
pub fn hundred_thousand_continuations() -> String {
    let mut s = String::from("FROM busybox\nRUN echo start");
    for i in 0..100_000 {
        s.push_str(&format!(" \\\n  a{i:05}"));
    }
    s.push('\n');
    s
}

fn median_ms(text: &str) -> (f64, usize) {
    let mut times = Vec::new();
    let mut count = 0;
    for _ in 0..21 {
        let t = Instant::now();
        let df = berth_dockerfile::parse(text).expect("parses");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        count = df.instructions.len();
    }
    times.sort_by(|a, b| a.total_cmp(b));
    (times[times.len() / 2], count)
}

fn main() {
    let a = ten_thousand_instructions();
    let (ms, n) = median_ms(&a);
    println!(
        "{n} instructions, {} bytes: {ms:.2} ms (target < 10 ms)",
        a.len()
    );
    let b = hundred_thousand_continuations();
    let (ms, _) = median_ms(&b);
    println!("100,000 continuation lines, {} bytes: {ms:.2} ms", b.len());
}
