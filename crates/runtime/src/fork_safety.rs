//! Making libcontainer's child processes safe to create from a process with many threads
//! (`berth serve`, a build running stages at once).
//!
//! libcontainer makes the container's intermediate and init processes with the raw `clone3`
//! system call and ends them with `std::process::exit`, which runs Rust's runtime cleanup.
//! That cleanup takes a lock of the standard library's (the table of threads' stack guards)
//! which another thread may have held at the moment of the clone: it is taken whenever a
//! thread starts or ends. The child, a copy of this process with that one thread, then waits
//! for it forever, and so does the request that created the container (seen under
//! docker-py's integration tests: builds' RUN steps hung at random).
//!
//! When `clone3` fails with ENOSYS, libcontainer uses `clone(2)` through the C library
//! instead, whose child ends with the plain `exit` system call when the callback returns: no
//! Rust cleanup, no lock. So the thread that calls libcontainer first installs a seccomp
//! filter of its own (filters belong to a thread and what it creates) that answers `clone3`
//! with ENOSYS, as Docker's default seccomp profile does for containers. The C library's
//! own `clone3` users (thread creation, `posix_spawn`) fall back the same way.
//!
//! Not patched into libcontainer: its source is a crates.io dependency, not ours to copy.

/// The filter: `clone3` → ENOSYS on this architecture, everything else allowed.
fn clone3_enosys_program() -> Vec<libc::sock_filter> {
    // Offsets in `struct seccomp_data`.
    const NR: u32 = 0;
    const ARCH: u32 = 4;
    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xc000_003e;
    #[cfg(target_arch = "aarch64")]
    const AUDIT_ARCH: u32 = 0xc000_00b7;
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |code: u32, k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    let ld_abs = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let jeq = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
    let ret = libc::BPF_RET | libc::BPF_K;
    vec![
        stmt(ld_abs, ARCH),
        // Another architecture's calls (none expected) are left alone.
        jump(jeq, AUDIT_ARCH, 0, 3),
        stmt(ld_abs, NR),
        jump(jeq, libc::SYS_clone3 as u32, 0, 1),
        stmt(ret, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
        stmt(ret, libc::SECCOMP_RET_ALLOW),
    ]
}

/// Whether `clone3` already fails with ENOSYS here (a filter inherited from the thread or
/// process that made this one, or a kernel without it): asked with arguments the kernel
/// refuses with EINVAL otherwise, so nothing is created.
fn clone3_answers_enosys() -> bool {
    // SAFETY: clone3 with a null argument of size 0 creates nothing.
    let r = unsafe { libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0usize) };
    r == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS)
}

/// Makes `clone3` fail with ENOSYS in the calling thread and what it creates from now on.
/// Filters add up and every system call runs them all, so none is added where one is
/// already in effect. Best effort: without the privilege to install a filter, nothing
/// changes (the CLI's own single-threaded paths do not need it).
pub(crate) fn clone3_falls_back_in_this_thread() {
    if clone3_answers_enosys() {
        return;
    }
    let mut filter = clone3_enosys_program();
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: prctl with a valid program that lives across the call; the kernel copies it.
    // Without SECCOMP_FILTER_FLAG_TSYNC the filter applies to this thread only.
    unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &prog as *const libc::sock_fprog,
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clone3_errno() -> i32 {
        // SAFETY: a clone3 with a null argument of size 0 creates nothing: the kernel refuses
        // the arguments (EINVAL/EFAULT), or the filter answers first.
        let r = unsafe { libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0usize) };
        assert_eq!(r, -1);
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
    }

    #[test]
    fn clone3_fails_with_enosys_in_the_thread_that_asked_only() {
        let (inside, spawned) = std::thread::spawn(|| {
            // Lets this test thread install a filter without root (as nobody in CI).
            // SAFETY: prctl on this thread only.
            unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
            clone3_falls_back_in_this_thread();
            let filters = || {
                std::fs::read_to_string("/proc/thread-self/status")
                    .unwrap()
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("Seccomp_filters:")
                            .map(|n| n.trim().to_string())
                    })
            };
            let once = filters();
            // A second call (or one in a thread that inherited the filter) adds none.
            clone3_falls_back_in_this_thread();
            assert_eq!(filters(), once);
            let inside = clone3_errno();
            // Threads it makes inherit the filter (and are made through clone's fallback).
            let spawned = std::thread::spawn(clone3_errno).join().unwrap();
            (inside, spawned)
        })
        .join()
        .unwrap();
        assert_eq!((inside, spawned), (libc::ENOSYS, libc::ENOSYS));
        // This thread has no filter: the kernel itself answers.
        assert_ne!(clone3_errno(), libc::ENOSYS);
    }
}
