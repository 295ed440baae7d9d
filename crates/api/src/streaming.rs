//! Bridges between the engine's blocking `Write`/`Read` work (tar streams of export, archive,
//! image save/load) and HTTP bodies, with back-pressure both ways. A client that leaves makes
//! the writer fail (a broken pipe), so the work stops and cleans up after itself.

use std::io::{Read, Write};

use axum::body::{Body, Bytes};
use futures_util::StreamExt;

/// Bytes buffered before a chunk is handed to the body.
const CHUNK: usize = 64 * 1024;

/// A `Write` whose bytes become a response body.
pub(crate) struct BodyWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl BodyWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }

    /// Ends the body with an error: the client sees the connection end before the body did.
    pub fn fail(self, why: String) {
        let _ = self.tx.blocking_send(Err(std::io::Error::other(why)));
    }
}

impl Write for BodyWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

impl Drop for BodyWriter {
    fn drop(&mut self) {
        let _ = self.send();
    }
}

/// A body fed by `work`, run on a blocking thread with a `BodyWriter`. An error ends the body
/// early (the client sees a truncated stream, as with Docker once the headers are out).
pub(crate) fn body_from_writer<E: std::fmt::Display>(
    work: impl FnOnce(&mut BodyWriter) -> Result<(), E> + Send + 'static,
) -> Body {
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    tokio::task::spawn_blocking(move || {
        let mut w = BodyWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        };
        match work(&mut w) {
            Ok(()) => {
                let _ = w.flush();
            }
            Err(e) => {
                eprintln!("berth serve: streaming a body failed: {e}");
                w.buf.clear();
                w.fail(e.to_string());
            }
        }
    });
    Body::from_stream(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

/// A request body as a blocking `Read` (for a blocking thread).
pub(crate) struct BodyReader {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
    current: Bytes,
}

impl BodyReader {
    pub fn new(body: Body) -> BodyReader {
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        tokio::spawn(async move {
            let mut stream = body.into_data_stream();
            while let Some(chunk) = stream.next().await {
                let item = chunk.map_err(std::io::Error::other);
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    return;
                }
            }
        });
        BodyReader {
            rx,
            current: Bytes::new(),
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Err(e)) => return Err(e),
                Some(Ok(b)) => self.current = b,
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}
