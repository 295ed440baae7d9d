//! Seccomp profiles compiled once and kept, then loaded by the container's process itself.
//!
//! Turning Docker's profile into BPF for x86-64's three ABIs (x86-64, x32 and i386 with its
//! socketcall/ipc multiplexers) costs libseccomp about 10 ms, and libcontainer would pay it
//! in every container's init, on the path of every start and exec. berth compiles a profile
//! the first time it is used (with the same libseccomp, translating the OCI form exactly as
//! libcontainer 0.7 does), keeps the program under the store's root by the digest of the
//! profile and the libseccomp version, copies it into the container's bundle, and has the
//! container's process load it just before exec (`engine::FilterExecutor`); crun caches
//! compiled filters the same way.
//!
//! Loading a filter needs CAP_SYS_ADMIN unless no_new_privs is set (runc and libcontainer load
//! it before dropping capabilities for that reason). So when the container is not to keep
//! CAP_SYS_ADMIN, the spec gives it in the effective and permitted sets only (never bounding,
//! inheritable or ambient), and the process drops every capability outside its bounding set
//! right after loading the filter, before exec.

use std::fs;
use std::io::{Read, Seek};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;

use berth_image::Digest;
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
    ScmpVersion,
};
use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};
use serde_json::{json, Value};

use crate::error::{Error, IoContext, Result};

/// The program's file name in a container's bundle (beside config.json).
pub const BUNDLE_FILE: &str = "seccomp.bpf";

/// Bumped when the way a profile is compiled changes, so older programs are not reused.
const CACHE_FORMAT: &str = "berth seccomp program 1";

/// The kernel's limit on a filter's length (BPF_MAXINSNS).
const MAX_INSTRUCTIONS: usize = 4096;

/// A classic-BPF seccomp program, as the kernel loads it.
#[derive(Clone, Debug)]
pub struct Program(Vec<libc::sock_filter>);

impl PartialEq for Program {
    fn eq(&self, other: &Program) -> bool {
        self.to_bytes() == other.to_bytes()
    }
}

impl Program {
    /// Parses a program in libseccomp's export format (native-endian `struct sock_filter`s).
    pub fn from_bytes(bytes: &[u8]) -> Option<Program> {
        if bytes.is_empty() || !bytes.len().is_multiple_of(8) || bytes.len() / 8 > MAX_INSTRUCTIONS
        {
            return None;
        }
        let insns = bytes
            .chunks_exact(8)
            .map(|c| libc::sock_filter {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        Some(Program(insns))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len() * 8);
        for i in &self.0 {
            out.extend_from_slice(&i.code.to_ne_bytes());
            out.push(i.jt);
            out.push(i.jf);
            out.extend_from_slice(&i.k.to_ne_bytes());
        }
        out
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Installs the filter on the calling thread (and so on everything it executes). Needs
    /// CAP_SYS_ADMIN or no_new_privs.
    pub fn load(&self) -> std::io::Result<()> {
        let prog = libc::sock_fprog {
            // from_bytes keeps the length within BPF_MAXINSNS.
            len: self.0.len() as libc::c_ushort,
            filter: self.0.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: `prog` points at our instructions, which outlive the call; the kernel copies
        // them and checks the program before installing it.
        let r = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &prog as *const libc::sock_fprog,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
}

fn profile_error(reason: impl std::fmt::Display) -> Error {
    Error::BadFlag {
        flag: "--security-opt seccomp",
        value: "profile".into(),
        reason: reason.to_string(),
    }
}

/// The compiled program for `profile` (OCI form), from `cache_dir` or compiled now and kept
/// there. None when the profile needs what only libcontainer's own loader does (a user-space
/// notifier, or filter flags).
pub fn compile_cached(profile: &Value, cache_dir: &Path) -> Result<Option<Program>> {
    let seccomp: LinuxSeccomp = serde_json::from_value(profile.clone()).map_err(profile_error)?;
    if needs_libcontainer(&seccomp) {
        return Ok(None);
    }
    let v = ScmpVersion::current().map_err(|e| profile_error(format!("libseccomp: {e}")))?;
    let key = Digest::of(
        format!(
            "{CACHE_FORMAT}\nlibseccomp {}.{}.{}\n{profile}",
            v.major, v.minor, v.micro
        )
        .as_bytes(),
    );
    let path = cache_dir.join(format!("{}.bpf", key.hex()));
    if let Some(p) = read_program(&path) {
        return Ok(Some(p));
    }
    let program = compile(&seccomp)?;
    write_program(&path, &program, true)?;
    Ok(Some(program))
}

fn needs_libcontainer(s: &LinuxSeccomp) -> bool {
    let notify = |a: LinuxSeccompAction| a == LinuxSeccompAction::ScmpActNotify;
    notify(s.default_action())
        || s.flags().as_ref().is_some_and(|f| !f.is_empty())
        || s.listener_path().is_some()
        || s.syscalls()
            .as_ref()
            .is_some_and(|l| l.iter().any(|r| notify(r.action())))
}

/// A program kept in `path` (program, then the hex digest of the program), if it is there
/// and intact.
pub fn read_program(path: &Path) -> Option<Program> {
    let data = fs::read(path).ok()?;
    let (body, digest) = data.split_at(data.len().checked_sub(64)?);
    if Digest::of(body).hex().as_bytes() != digest {
        return None;
    }
    Program::from_bytes(body)
}

/// Writes `program` to `path` atomically (temp file, rename), `durable`ly (fsync) or not.
pub fn write_program(path: &Path, program: &Program, durable: bool) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    fs::create_dir_all(dir).ctx("create directory", dir)?;
    let mut data = program.to_bytes();
    let digest = Digest::of(&data);
    data.extend_from_slice(digest.hex().as_bytes());
    // Unique to this call: threads of one process (a build's stages) may write it at once.
    static TEMP_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let tmp = path.with_extension(format!(
        "tmp{}.{}",
        std::process::id(),
        TEMP_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let written = (|| {
        use std::io::Write;
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&data)?;
        if durable {
            f.sync_all()?;
        }
        Ok(())
    })();
    if let Err(e) = written.and_then(|_| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(e).ctx("write", path);
    }
    Ok(())
}

/// Compiles the profile with libseccomp, rule for rule as libcontainer 0.7 would before
/// loading it (same actions, default errno, skipped redundant rules and unknown names, one
/// rule per comparison when an argument is compared twice).
pub fn compile(s: &LinuxSeccomp) -> Result<Program> {
    let lib = |what: &str, e: libseccomp::error::SeccompError| {
        profile_error(format!("libseccomp {what}: {e}"))
    };
    let default = action(s.default_action(), s.default_errno_ret())?;
    let mut ctx = ScmpFilterContext::new(default).map_err(|e| lib("new filter", e))?;
    for arch in s.architectures().iter().flatten() {
        ctx.add_arch(architecture(*arch))
            .map_err(|e| lib("add architecture", e))?;
    }
    ctx.set_ctl_nnp(false).map_err(|e| lib("no_new_privs", e))?;
    for rule in s.syscalls().iter().flatten() {
        let act = action(rule.action(), rule.errno_ret())?;
        if act == default {
            continue;
        }
        let comparisons: Vec<ScmpArgCompare> = rule
            .args()
            .iter()
            .flatten()
            .map(|a| {
                ScmpArgCompare::new(a.index() as u32, operator(a.op(), a.value_two()), a.value())
            })
            .collect();
        let mut indexes: Vec<usize> = rule.args().iter().flatten().map(|a| a.index()).collect();
        indexes.sort_unstable();
        let repeated = indexes.windows(2).any(|w| w[0] == w[1]);
        for name in rule.names() {
            // A name this libseccomp does not know is a syscall this kernel lacks.
            let Ok(sc) = ScmpSyscall::from_name(name) else {
                continue;
            };
            let added = if comparisons.is_empty() {
                ctx.add_rule(act, sc).map(|_| ())
            } else if repeated {
                comparisons.iter().try_for_each(|c| {
                    ctx.add_rule_conditional(act, sc, std::slice::from_ref(c))
                        .map(|_| ())
                })
            } else {
                ctx.add_rule_conditional(act, sc, &comparisons).map(|_| ())
            };
            added.map_err(|e| lib(&format!("rule for {name}"), e))?;
        }
    }
    // SAFETY: memfd_create with a constant name; the descriptor is owned from here on.
    let fd = unsafe { libc::memfd_create(c"berth-seccomp".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(profile_error(format!(
            "memfd_create: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: fd was just created and nothing else owns it.
    let mut file = fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    ctx.export_bpf(&file).map_err(|e| lib("export", e))?;
    let mut bytes = Vec::new();
    file.rewind()
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(|e| profile_error(format!("reading the compiled filter: {e}")))?;
    Program::from_bytes(&bytes).ok_or_else(|| {
        profile_error(format!(
            "the compiled filter has {} instructions (the kernel takes up to {MAX_INSTRUCTIONS})",
            bytes.len() / 8
        ))
    })
}

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<ScmpAction> {
    let errno = errno.map(|e| e as i32).unwrap_or(libc::EPERM);
    Ok(match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(errno),
        LinuxSeccompAction::ScmpActTrace => {
            ScmpAction::Trace(u16::try_from(errno).map_err(|_| {
                profile_error(format!("SCMP_ACT_TRACE value {errno} is out of range"))
            })?)
        }
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
    })
}

fn operator(op: LinuxSeccompOperator, value_two: Option<u64>) -> ScmpCompareOp {
    match op {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        LinuxSeccompOperator::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(value_two.unwrap_or(0)),
    }
}

fn architecture(a: Arch) -> ScmpArch {
    match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

/// Makes `spec` (config.json) load its seccomp profile from a compiled program in `bundle`
/// instead of having libcontainer compile it: the program is written beside config.json, the
/// profile leaves the spec, and CAP_SYS_ADMIN is held just long enough to load it (see the
/// module's comment). Profiles libcontainer must load itself stay in the spec.
pub fn prepare_bundle(spec: &mut Value, cache_dir: &Path, bundle: &Path) -> Result<()> {
    let file = bundle.join(BUNDLE_FILE);
    let program = match spec["linux"].get("seccomp") {
        Some(profile) => compile_cached(profile, cache_dir)?,
        None => None,
    };
    let Some(program) = program else {
        match fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).ctx("remove", &file)
            }
            _ => return Ok(()),
        }
    };
    // Written again at every start, so it need not survive a power loss.
    write_program(&file, &program, false)?;
    if let Some(linux) = spec["linux"].as_object_mut() {
        linux.remove("seccomp");
    }
    let process = &mut spec["process"];
    if process["noNewPrivileges"] != json!(true) {
        for set in ["effective", "permitted"] {
            if let Some(l) = process["capabilities"][set].as_array_mut() {
                if !l.iter().any(|c| c == "CAP_SYS_ADMIN") {
                    l.push(json!("CAP_SYS_ADMIN"));
                }
            }
        }
    }
    Ok(())
}

/// Loads `program` in the calling process, then drops the capabilities it held only for
/// that (those outside its bounding set). Everything the drop needs is read before the
/// filter is in place, so only capset remains to be allowed by it.
pub fn install(program: &Program) -> std::io::Result<()> {
    let mut bounding: u64 = 0;
    for cap in 0..64 {
        // SAFETY: PR_CAPBSET_READ only reads; it fails with EINVAL past the last capability.
        match unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap as libc::c_ulong, 0, 0, 0) } {
            1 => bounding |= 1 << cap,
            0 => {}
            _ => break,
        }
    }
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget fills two CapData for version 3, which is what we pass.
    if unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut changed = false;
    for (i, d) in data.iter_mut().enumerate() {
        let allowed = (bounding >> (32 * i)) as u32;
        changed |= (d.effective | d.permitted) & !allowed != 0;
        d.effective &= allowed;
        d.permitted &= allowed;
    }
    program.load()?;
    // SAFETY: capset with the version-3 header and two CapData; it only lowers sets.
    if changed && unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_caps() -> Vec<String> {
        crate::spec::capabilities(false, &[], &[]).unwrap()
    }

    #[test]
    fn default_profile_compiles_once_and_is_taken_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let profile = crate::seccomp::default_profile(&default_caps());
        let first = compile_cached(&profile, dir.path()).unwrap().unwrap();
        assert!(first.len() > 100, "{} instructions", first.len());
        let kept: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(kept.len(), 1);
        let path = kept[0].as_ref().unwrap().path();
        assert_eq!(read_program(&path), Some(first.clone()));
        // A damaged cache entry is not used: it is compiled again and replaced.
        let mut data = fs::read(&path).unwrap();
        data[3] ^= 0x40;
        fs::write(&path, &data).unwrap();
        assert_eq!(read_program(&path), None);
        assert_eq!(
            compile_cached(&profile, dir.path()).unwrap(),
            Some(first.clone())
        );
        assert_eq!(read_program(&path), Some(first));
        // Another profile is another entry.
        let other = crate::seccomp::default_profile(&["CAP_SYS_ADMIN".to_string()]);
        compile_cached(&other, dir.path()).unwrap().unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn malformed_programs_are_refused() {
        assert!(Program::from_bytes(&[]).is_none());
        assert!(Program::from_bytes(&[0; 12]).is_none());
        assert!(Program::from_bytes(&vec![0; 8 * (MAX_INSTRUCTIONS + 1)]).is_none());
        let p = Program::from_bytes(&[6, 0, 0, 0, 0, 0, 0xff, 0x7f]).unwrap();
        assert_eq!(p.to_bytes(), vec![6, 0, 0, 0, 0, 0, 0xff, 0x7f]);
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("short");
        fs::write(&f, b"abc").unwrap();
        assert!(read_program(&f).is_none());
    }

    #[test]
    fn notifier_profiles_are_left_to_libcontainer() {
        let dir = tempfile::tempdir().unwrap();
        let p = json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/x.sock",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]});
        assert_eq!(compile_cached(&p, dir.path()).unwrap(), None);
        assert_eq!(fs::read_dir(dir.path()).map(|d| d.count()).unwrap_or(0), 0);
    }

    #[test]
    fn bad_profiles_name_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let p = json!({"defaultAction": "SCMP_ACT_SOMETIMES", "syscalls": []});
        let e = compile_cached(&p, dir.path()).unwrap_err().to_string();
        assert!(e.contains("SCMP_ACT_SOMETIMES"), "{e}");
    }

    #[test]
    fn bundle_gets_the_program_and_the_spec_holds_sys_admin_only_to_load_it() {
        let dir = tempfile::tempdir().unwrap();
        let caps = default_caps();
        let mut spec = json!({
            "process": {"capabilities": {"bounding": caps, "effective": caps, "permitted": caps}},
            "linux": {"seccomp": crate::seccomp::default_profile(&caps)},
        });
        prepare_bundle(&mut spec, &dir.path().join("cache"), dir.path()).unwrap();
        assert!(spec["linux"].get("seccomp").is_none());
        assert!(read_program(&dir.path().join(BUNDLE_FILE)).is_some());
        let has = |set: &str| {
            spec["process"]["capabilities"][set]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == "CAP_SYS_ADMIN")
        };
        assert!(has("effective") && has("permitted") && !has("bounding"));
        // With no_new_privs the filter loads without it.
        let mut spec = json!({
            "process": {"noNewPrivileges": true, "capabilities": {"bounding": caps, "effective": caps, "permitted": caps}},
            "linux": {"seccomp": crate::seccomp::default_profile(&caps)},
        });
        prepare_bundle(&mut spec, &dir.path().join("cache"), dir.path()).unwrap();
        assert_eq!(spec["process"]["capabilities"]["effective"], json!(caps));
        // Unconfined: no program left over from an earlier start.
        let mut spec = json!({"process": {}, "linux": {}});
        prepare_bundle(&mut spec, &dir.path().join("cache"), dir.path()).unwrap();
        assert!(!dir.path().join(BUNDLE_FILE).exists());
    }
}
