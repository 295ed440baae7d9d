//! Times building Docker's default seccomp filter with libseccomp, phase by phase.
use libseccomp::*;
use std::time::Instant;

fn main() {
    let caps: Vec<String> = std::env::args().skip(1).collect();
    let p = berth_runtime::seccomp::default_profile(&caps);
    let arches: Vec<String> = p["architectures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let only = std::env::var("ARCHES").ok();
    for round in 0..5 {
        let t0 = Instant::now();
        let mut ctx = ScmpFilterContext::new(ScmpAction::Errno(1)).unwrap();
        for a in &arches {
            if let Some(o) = &only {
                if !o.split(',').any(|x| a.ends_with(x)) {
                    continue;
                }
            }
            let arch = match a.as_str() {
                "SCMP_ARCH_X86" => ScmpArch::X86,
                "SCMP_ARCH_X32" => ScmpArch::X32,
                "SCMP_ARCH_X86_64" => ScmpArch::X8664,
                _ => continue,
            };
            let _ = ctx.add_arch(arch);
        }
        if let Ok(v) = std::env::var("OPT") {
            ctx.set_ctl_optimize(v.parse().unwrap()).unwrap();
        }
        let t1 = Instant::now();
        let mut n = 0;
        for r in p["syscalls"].as_array().unwrap() {
            let action = match r["action"].as_str().unwrap() {
                "SCMP_ACT_ALLOW" => ScmpAction::Allow,
                _ => ScmpAction::Errno(r["errnoRet"].as_i64().unwrap_or(1) as i32),
            };
            for name in r["names"].as_array().unwrap() {
                let Ok(sc) = ScmpSyscall::from_name(name.as_str().unwrap()) else {
                    continue;
                };
                n += 1;
                match r["args"].as_array() {
                    Some(args) => {
                        let c: Vec<_> = args
                            .iter()
                            .map(|a| {
                                ScmpArgCompare::new(
                                    a["index"].as_u64().unwrap() as u32,
                                    match a["op"].as_str().unwrap() {
                                        "SCMP_CMP_NE" => ScmpCompareOp::NotEqual,
                                        "SCMP_CMP_EQ" => ScmpCompareOp::Equal,
                                        "SCMP_CMP_MASKED_EQ" => {
                                            ScmpCompareOp::MaskedEqual(a["value"].as_u64().unwrap())
                                        }
                                        o => panic!("{o}"),
                                    },
                                    if a["op"] == "SCMP_CMP_MASKED_EQ" {
                                        0
                                    } else {
                                        a["value"].as_u64().unwrap()
                                    },
                                )
                            })
                            .collect();
                        ctx.add_rule_conditional(action, sc, &c).unwrap();
                    }
                    None => {
                        ctx.add_rule(action, sc).unwrap();
                    }
                }
            }
        }
        let t2 = Instant::now();
        let f = std::fs::File::create("/dev/null").unwrap();
        ctx.export_bpf(f).unwrap();
        let t3 = Instant::now();
        let mut out = Vec::new();
        if round == 0 {
            let mut tmp = tempfile();
            ctx.export_bpf(&mut tmp).unwrap();
            out = std::fs::read("/tmp/bpf.out").unwrap();
        }
        println!(
            "rules {n}: setup {:?} add {:?} export {:?} {}",
            t1 - t0,
            t2 - t1,
            t3 - t2,
            if round == 0 {
                format!("bpf {} insns", out.len() / 8)
            } else {
                String::new()
            }
        );
    }
}
fn tempfile() -> std::fs::File {
    std::fs::File::create("/tmp/bpf.out").unwrap()
}
