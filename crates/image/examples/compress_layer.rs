//! Measures layer compression throughput (what a push pays once per layer):
//! `cargo run --release -p berth-image --example compress_layer -- FILE.tar`

use std::io::{self, Write};
use std::time::Instant;

use berth_image::layer::{compress, Compression};

/// Counts bytes written, keeps none.
struct Counter(u64);
impl Write for Counter {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: compress_layer FILE.tar")?;
    let data = std::fs::read(&path)?;
    let mb = data.len() as f64 / 1e6;
    for c in [Compression::Gzip, Compression::Zstd] {
        let start = Instant::now();
        let out = compress(&data[..], Counter(0), c)?;
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{:<5} {:>8.1} MB in {:>6.3} s = {:>7.1} MB/s, ratio {:.2}",
            c.name(),
            mb,
            secs,
            mb / secs,
            out.0 as f64 / data.len() as f64
        );
    }
    Ok(())
}
