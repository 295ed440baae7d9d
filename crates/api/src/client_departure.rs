//! Telling that a streaming client has gone away for good, while its stream has nothing to
//! send. A relay (attach, exec start, attach/ws) otherwise notices a departed client only
//! when its next output cannot be written, so a quiet container would hold the connection,
//! the supervisor's connection and the task until it exits.
//!
//! The end of a client's input is not a departure: the docker CLI half-closes its side of a
//! hijacked connection when its stdin ends and then keeps reading. On a unix socket the
//! kernel sets POLLHUP only when the peer has closed both directions, which tells the two
//! apart. On TCP a FIN reads the same either way, so there only a reset (POLLERR/POLLHUP)
//! counts; docker's daemon notices no sooner (a write to a gone client).

use std::future::Future;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::time::Duration;

/// How often a quiet stream's socket is looked at.
const LOOK_EVERY: Duration = Duration::from_millis(250);

/// Resolves once the client has gone (see the module docs); never for a client that stays.
pub(crate) struct Departure(Pin<Box<dyn Future<Output = ()> + Send>>);

/// Signals a departure when dropped (held by a response body that hyper drops when its
/// client goes away, or by a WebSocket bridge).
pub(crate) struct DepartureGuard {
    _signal: tokio::sync::oneshot::Sender<()>,
}

impl Departure {
    /// A client that is never seen to go (a test, a stream with its own end).
    pub(crate) fn never() -> Departure {
        Departure(Box::pin(std::future::pending()))
    }

    /// The client on the connected socket `fd`. The caller keeps the connection that owns
    /// `fd` alive for as long as it awaits this (the relay holds both), so the number cannot
    /// have been reused for another file.
    pub(crate) fn hangup(fd: RawFd) -> Departure {
        Departure(Box::pin(async move {
            loop {
                if hung_up(fd) {
                    return;
                }
                tokio::time::sleep(LOOK_EVERY).await;
            }
        }))
    }

    /// A departure that happens when the returned guard is dropped.
    pub(crate) fn guard() -> (DepartureGuard, Departure) {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let wait = async move {
            let _ = rx.await;
        };
        (DepartureGuard { _signal: tx }, Departure(Box::pin(wait)))
    }

    /// Waits for the departure.
    pub(crate) async fn wait(self) {
        self.0.await
    }
}

/// Whether the peer of the socket `fd` has closed it in both directions (or reset it).
fn hung_up(fd: RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    };
    // SAFETY: one valid pollfd, a zero timeout; `fd` is open (see `Departure::hangup`).
    let r = unsafe { libc::poll(&mut p, 1, 0) };
    r > 0 && p.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_half_close_is_not_a_hangup_but_a_close_is() {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(!hung_up(ours.as_raw_fd()));
        theirs.shutdown(std::net::Shutdown::Write).unwrap();
        assert!(
            !hung_up(ours.as_raw_fd()),
            "a half-close is the end of input"
        );
        drop(theirs);
        assert!(hung_up(ours.as_raw_fd()));
    }

    #[tokio::test]
    async fn a_dropped_guard_is_a_departure() {
        let (guard, departure) = Departure::guard();
        let waiting = tokio::spawn(departure.wait());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        drop(guard);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn a_closed_socket_is_seen_while_the_stream_is_quiet() {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let waiting = tokio::spawn(Departure::hangup(ours.as_raw_fd()).wait());
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiting.is_finished());
        drop(theirs);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap();
        drop(ours);
    }
}
