//! End-to-end tests of execs as the Engine API splits them (create, start, inspect, resize),
//! through the runtime library with the real berth binary as the exec supervisor.

mod common;

use berth_error_kind::{ErrorKind, HasKind};
use berth_runtime::attach::{AttachEnd, AttachOptions};
use berth_runtime::client_io::ClientIo;
use berth_runtime::options::ExecOptions;
use berth_runtime::Runtime;
use common::{bin, Berth};

fn command(args: &[&str]) -> ExecOptions {
    ExecOptions {
        command: args.iter().map(|s| s.to_string()).collect(),
        ..ExecOptions::default()
    }
}

#[test]
fn root_exec_create_start_inspect_and_resize() {
    let b = Berth::new();
    b.import_busybox("busybox");
    b.run(&["run", "-d", "--name", "host", "busybox", "sleep", "300"])
        .ok();
    let rt = Runtime::open(b.root()).unwrap();
    let exe = std::path::Path::new(bin());

    let id = rt
        .exec_create("host", &command(&["sh", "-c", "exit 4"]))
        .unwrap();
    let before = rt.exec_inspect(&id).unwrap();
    assert!(!before.running);
    assert_eq!(before.exit_code, None);
    assert_eq!(before.process_config.entrypoint, "sh");
    assert_eq!(before.process_config.arguments, ["-c", "exit 4"]);
    let session = rt.exec_start(&id, exe).unwrap();
    let quiet = AttachOptions {
        detach_keys: Vec::new(),
    };
    assert_eq!(
        rt.attach_exec(&session, &quiet, ClientIo::discard())
            .unwrap(),
        AttachEnd::Exited(4)
    );
    let after = rt.exec_inspect(&id).unwrap();
    assert!(!after.running);
    assert_eq!(after.exit_code, Some(4));
    let again = rt
        .exec_start(&id, exe)
        .err()
        .expect("a second start is refused");
    assert_eq!(again.kind(), ErrorKind::Conflict, "{again}");
    let missing = rt.exec_inspect("0123abcd").unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
    assert_eq!(missing.to_string(), "No such exec instance: 0123abcd");

    // A terminal exec is resized while it runs.
    let mut o = command(&["sh", "-c", "sleep 1; stty size > /tmp/size"]);
    o.tty = true;
    let id = rt.exec_create("host", &o).unwrap();
    let session = rt.exec_start(&id, exe).unwrap();
    assert!(rt.exec_inspect(&id).unwrap().running);
    assert!(rt.exec_inspect(&id).unwrap().pid > 0);
    rt.exec_resize(&id, 31, 101).unwrap();
    assert_eq!(
        rt.attach_exec(&session, &quiet, ClientIo::discard())
            .unwrap(),
        AttachEnd::Exited(0)
    );
    assert_eq!(
        b.run(&["exec", "host", "cat", "/tmp/size"]).ok().trim(),
        "31 101"
    );
    let err = rt.exec_resize(&id, 10, 10).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);

    // Execs of a stopped container are refused at create.
    b.run(&["stop", "-t", "0", "host"]).ok();
    let err = rt.exec_create("host", &command(&["true"])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    b.run(&["rm", "host"]).ok();
}
