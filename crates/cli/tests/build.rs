//! `berth build` end to end: real Dockerfiles and contexts, RUN steps as real containers (root
//! only: tests named `root_*`), the built images run with `berth run`.

mod common;

use std::path::Path;

use common::{json, Berth};

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn busybox() -> Berth {
    let b = Berth::new();
    b.import_busybox("busybox");
    b
}

/// A build showing the classic builder's text on stdout (which these tests read), unless
/// `extra` asks for another display.
fn build(b: &Berth, ctx: &Path, extra: &[&str]) -> common::Run {
    let mut args = vec!["build"];
    if !extra.iter().any(|a| a.starts_with("--progress")) {
        args.push("--progress=classic");
    }
    args.extend_from_slice(extra);
    args.push(ctx.to_str().unwrap());
    b.run(&args)
}

fn run_out(b: &Berth, args: &[&str]) -> String {
    let mut a = vec!["run", "--rm", "--pull", "never", "--network", "none"];
    a.extend_from_slice(args);
    b.run(&a).ok()
}

/// Nothing of a build may stay behind: no containers, no mounts under the root, no scratch.
fn assert_clean(b: &Berth) {
    assert_eq!(
        b.run(&["ps", "-aq"]).ok().trim(),
        "",
        "build containers left"
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root = b.root().display().to_string();
    assert!(
        !mounts.lines().any(|l| l.contains(&root)),
        "mounts left under {root}"
    );
    let tmp = b.root().join("tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "scratch left in tmp: {left:?}");
}

#[test]
fn root_build_runs_every_kind_of_step_and_the_image_runs() {
    let b = busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    write(c, "a.txt", "A\n");
    write(c, "b.txt", "B\n");
    write(c, "secret.txt", "do not send\n");
    write(c, "src/lib/x.py", "print('x')\n");
    write(c, ".dockerignore", "secret.txt\n");
    write(
        c,
        "Dockerfile",
        r#"FROM busybox
ARG GREETING=hello
ENV APP=/app MODE="two words"
WORKDIR $APP
COPY *.txt ./
COPY src/ src/
COPY --chown=1000:1000 --chmod=0640 a.txt /owned/a.txt
COPY a.t?t /renamed.txt
RUN echo "$GREETING from $(pwd) in $MODE" > out
RUN <<EOF
echo heredoc >> /app/out
echo $APP >> /app/out
EOF
COPY <<EOF /app/conf
key=${GREETING} "quoted" \kept
EOF
EXPOSE 80 53/udp
LABEL team=kiwi
USER nobody
STOPSIGNAL SIGTERM
CMD ["cat", "/app/out"]
"#,
    );
    let out = build(&b, c, &["-t", "app:1", "--build-arg", "GREETING=hi"]).ok();
    assert!(out.contains("Step 1/16 : FROM busybox"), "{out}");
    assert!(out.contains("Successfully tagged app:1"), "{out}");
    assert_eq!(
        run_out(&b, &["app:1"]),
        "hi from /app in two words\nheredoc\n/app\n"
    );
    let ls = run_out(
        &b,
        &[
            "app:1",
            "sh",
            "-c",
            "ls /app; ls /app/src/lib; cat /app/conf; stat -c '%u:%g %a' /owned/a.txt; id -un; cat /renamed.txt",
        ],
    );
    // (A wildcard that matches one file copies it to the destination's name.)
    assert_eq!(
        ls,
        "a.txt\nb.txt\nconf\nout\nsrc\nx.py\nkey=hi \"quoted\" \\kept\n1000:1000 640\nnobody\nA\n"
    );
    let cfg = json(&b.run(&["image", "inspect", "app:1"]).ok())[0]["Config"].clone();
    assert_eq!(cfg["WorkingDir"], "/app");
    assert_eq!(cfg["User"], "nobody");
    assert_eq!(cfg["Labels"]["team"], "kiwi");
    assert!(cfg["ExposedPorts"]["53/udp"].is_object(), "{cfg}");
    let env = cfg["Env"].to_string();
    assert!(
        env.contains("MODE=two words") && !env.contains("GREETING"),
        "ARGs stay out of the image: {env}"
    );
    let history = b.run(&["history", "--no-trunc", "app:1"]).ok();
    assert!(history.contains("buildkit.dockerfile.v0"), "{history}");
    // One line per entry, even for the here-document RUN.
    let history = b.run(&["history", "app:1"]).ok();
    assert!(
        history
            .lines()
            .skip(1)
            .all(|l| l.starts_with("<missing>") || l.as_bytes()[0].is_ascii_hexdigit()),
        "{history}"
    );
    assert_clean(&b);
}

#[test]
fn root_cache_reuses_unchanged_steps_and_reruns_from_a_change() {
    let b = busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    write(c, "data.txt", "one\n");
    // The steps print what their headers do not show (`ran-42-…`), so output proves a run.
    write(c, "Dockerfile", "FROM busybox\nRUN echo ran-$((40+2))-first\nCOPY data.txt /data.txt\nRUN echo ran-$((40+2))-second && cat /data.txt\n");
    let first = build(&b, c, &["-t", "cached"]).ok();
    assert!(
        first.contains("ran-42-first") && first.contains("ran-42-second"),
        "{first}"
    );
    let id1 = b.run(&["image", "inspect", "-f", "{{.Id}}", "cached"]).ok();
    let second = build(&b, c, &["-t", "cached"]).ok();
    assert!(
        !second.contains("ran-42-first") && !second.contains("ran-42-second"),
        "all cached: {second}"
    );
    assert_eq!(second.matches("Using cache").count(), 3, "{second}");
    assert_eq!(
        b.run(&["image", "inspect", "-f", "{{.Id}}", "cached"]).ok(),
        id1,
        "a fully cached build gives the same image"
    );
    // A changed source re-runs its COPY and everything after it, not what came before.
    write(c, "data.txt", "two\n");
    let third = build(&b, c, &["-t", "cached"]).ok();
    assert!(!third.contains("ran-42-first"), "{third}");
    assert!(third.contains("ran-42-second\ntwo"), "{third}");
    let nocache = build(&b, c, &["--no-cache", "-t", "cached"]).ok();
    assert!(
        nocache.contains("ran-42-first") && !nocache.contains("Using cache"),
        "{nocache}"
    );
    // The cache survives removing the image, and builder prune empties it.
    b.run(&["rmi", "cached"]).ok();
    assert!(build(&b, c, &["-t", "cached"]).ok().contains("Using cache"));
    b.run(&["builder", "prune", "-f"]).ok();
    assert!(!build(&b, c, &["-t", "cached"]).ok().contains("Using cache"));
    assert_eq!(run_out(&b, &["cached", "cat", "/data.txt"]), "two\n");
    assert_clean(&b);
}

#[test]
fn root_independent_stages_build_at_the_same_time() {
    let b = busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    // Two stages that can only finish together: each marks its arrival in a shared cache
    // mount and waits (at most 20 s) for the other's mark. One after the other, the first
    // would give up.
    let meet = |me: &str, other: &str| {
        format!(
            "RUN --mount=type=cache,target=/meet,id=meet touch /meet/{me} && i=0 && \\\n  while [ ! -e /meet/{other} ]; do i=$((i+1)); [ $i -gt 200 ] && exit 7; sleep 0.1; done && echo {me} > /{me}\n"
        )
    };
    let text = format!(
        "FROM busybox AS a\n{}FROM busybox AS b\n{}FROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\nRUN cat /a /b\n",
        meet("a", "b"),
        meet("b", "a")
    );
    write(c, "Dockerfile", &text);
    let out = build(&b, c, &["-t", "met"]).ok();
    // The classic text still comes one stage after another, in Dockerfile order.
    let at = |s: &str| {
        out.find(s)
            .unwrap_or_else(|| panic!("{s:?} missing: {out}"))
    };
    assert!(
        at("Step 1/8 : FROM busybox AS a") < at("Step 2/8 : RUN"),
        "{out}"
    );
    assert!(
        at("Step 2/8 : RUN") < at("Step 3/8 : FROM busybox AS b"),
        "{out}"
    );
    assert!(at("Step 4/8") < at("Step 5/8 : FROM busybox\n"), "{out}");
    assert!(at("a\nb\n") > at("Step 8/8 : RUN cat /a /b"), "{out}");
    assert_eq!(run_out(&b, &["met", "cat", "/a", "/b"]), "a\nb\n");

    // A stage waits for another only at the step that uses it: the steps before its COPY
    // --from run while the other stage builds (they meet here).
    let text = format!(
        "FROM busybox AS a\n{}FROM busybox\n{}COPY --from=a /a2 /a2\nRUN cat /a2 /c2\n",
        meet("a2", "c2").replace("id=meet", "id=meet2"),
        meet("c2", "a2").replace("id=meet", "id=meet2"),
    );
    write(c, "Dockerfile", &text);
    build(&b, c, &["-t", "met2"]).ok();
    assert_eq!(run_out(&b, &["met2", "cat", "/a2", "/c2"]), "a2\nc2\n");

    // The same step needed by two stages runs once, even without the cache.
    write(
        c,
        "Dockerfile",
        "FROM busybox AS a\nRUN date +%s%N > /t\nFROM busybox AS b\nRUN date +%s%N > /t\nFROM busybox\nCOPY --from=a /t /a\nCOPY --from=b /t /b\nRUN cmp /a /b\n",
    );
    let out = build(&b, c, &["--no-cache", "-t", "once"]).ok();
    assert_eq!(out.matches(" ---> Running in").count(), 2, "{out}");

    // A failing stage fails the build with its own error; stages after it are not told.
    write(
        c,
        "Dockerfile",
        "FROM busybox AS a\nRUN exit 3\nFROM busybox AS b\nRUN true\nFROM busybox\nCOPY --from=a /x /x\nCOPY --from=b /y /y\n",
    );
    let r = build(&b, c, &[]);
    assert!(!r.stdout.contains("Step 5/7"), "{}", r.stdout);
    assert!(r.fails().contains("Dockerfile:2: RUN: process"));
    assert_clean(&b);
}

#[test]
fn root_stages_copy_from_and_target() {
    let b = busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    write(
        c,
        "Dockerfile",
        "FROM busybox AS build\nRUN mkdir -p /out && echo made > /out/artifact && chown 5:6 /out/artifact\n\
         FROM busybox AS broken\nRUN exit 1\n\
         FROM scratch AS final\nCOPY --from=build /out/artifact /artifact\nCOPY --from=0 /bin/busybox /bin/busybox\nCMD [\"/bin/busybox\", \"cat\", \"/artifact\"]\n",
    );
    // The broken stage is not needed by the final one, so it is never run.
    build(&b, c, &["-t", "multi"]).ok();
    assert_eq!(run_out(&b, &["multi"]), "made\n");
    assert_eq!(
        run_out(
            &b,
            &["multi", "/bin/busybox", "stat", "-c", "%u:%g", "/artifact"]
        ),
        "5:6\n",
        "COPY --from keeps owners"
    );
    // As BuildKit: a stage on a base without PATH gets the default one.
    let env = json(&b.run(&["image", "inspect", "multi"]).ok())[0]["Config"]["Env"].to_string();
    assert!(
        env.contains("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        "{env}"
    );
    build(&b, c, &["--target", "build", "-t", "stage1"]).ok();
    assert_eq!(run_out(&b, &["stage1", "cat", "/out/artifact"]), "made\n");
    let err = build(&b, c, &["--target", "broken"]).fails();
    assert!(err.contains("exit code: 1"), "{err}");
    let err = build(&b, c, &["--target", "nope"]).fails();
    assert!(err.contains("failed to reach build target nope"), "{err}");
    assert_clean(&b);
}

#[test]
fn root_failed_run_says_where_and_leaves_nothing() {
    let b = busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    write(
        c,
        "Dockerfile",
        "FROM busybox\nRUN echo partial > /p\nRUN exit 3\n",
    );
    let r = build(&b, c, &["-t", "broken"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("Dockerfile:3: RUN: process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3"),
        "{}",
        r.stderr
    );
    assert!(
        b.run(&["image", "inspect", "broken"]).code != 0,
        "no image for a failed build"
    );
    assert_clean(&b);
}

#[test]
fn root_add_unpacks_archives_and_run_network_none_has_only_loopback() {
    let b = busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    let mut t = tar::Builder::new(flate2::write::GzEncoder::new(
        std::fs::File::create(c.join("files.tar.gz")).unwrap(),
        flate2::Compression::default(),
    ));
    let mut h = tar::Header::new_gnu();
    h.set_size(6);
    h.set_mode(0o644);
    h.set_cksum();
    t.append_data(&mut h, "inside/hello", &b"hello\n"[..])
        .unwrap();
    t.into_inner().unwrap().finish().unwrap();
    write(c, "Dockerfile", "FROM busybox\nADD files.tar.gz /opt/\nADD --unpack=false files.tar.gz /packed/\nRUN --network=none cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' > /ifaces\n");
    build(&b, c, &["-t", "added"]).ok();
    assert_eq!(
        run_out(&b, &["added", "cat", "/opt/inside/hello", "/ifaces"]),
        "hello\nlo\n"
    );
    // `--unpack=false` copies the archive as it is.
    assert_eq!(run_out(&b, &["added", "ls", "/packed"]), "files.tar.gz\n");
    assert_clean(&b);
}

#[test]
fn bad_dockerfiles_give_one_clear_error_each() {
    let b = Berth::new();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    // Errors found while building: one line naming the file, line and instruction.
    let cases = [
        (
            "FROM scratch\nCOPY missing.txt /\n",
            "Dockerfile:2: COPY: \"missing.txt\" not found",
        ),
        (
            "FROM scratch\nCOPY a b c\n",
            "the destination must be a directory and end with a /",
        ),
        (
            "FROM scratch\nEXPOSE 80/tcpx\n",
            "Dockerfile:2: EXPOSE: invalid containerPort: 80/tcpx",
        ),
    ];
    write(c, "a", "a");
    for (text, want) in cases {
        write(c, "Dockerfile", text);
        let err = build(&b, c, &[]).fails();
        assert!(err.contains(want), "{text:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
    // Errors in the Dockerfile itself: found before step 1 wherever they are, in BuildKit's
    // words, after BuildKit's view of the offending lines.
    let cases = [
        (
            "FROM scratch\nRUN echo first\nCOPY --bogus=1 a /\n",
            "dockerfile parse error on line 3: unknown flag: --bogus (COPY accepts",
            "   3 | >>> COPY --bogus=1 a /",
        ),
        (
            "FROM scratch\nCOPY a /\nNOINSTRUCTION x\n",
            "dockerfile parse error on line 3: unknown instruction: NOINSTRUCTION",
            "   3 | >>> NOINSTRUCTION x",
        ),
        (
            "FROM scratch\nCOPY --link=maybe a /\n",
            "dockerfile parse error on line 2: expecting boolean value for flag link, not: maybe",
            "   2 | >>> COPY --link=maybe a /",
        ),
        (
            "FROM scratch\nRUN --mount=type=ssh,bogus=1 true\n",
            "dockerfile parse error on line 2: --mount=type=ssh,bogus=1: unexpected key \"bogus\" in a type=ssh mount",
            "   2 | >>> RUN --mount=type=ssh,bogus=1 true",
        ),
        (
            "RUN true\n",
            "dockerfile parse error on line 1: no build stage in current context",
            "   1 | >>> RUN true",
        ),
        (
            "FROM scratch\nCOPY a /\nRUN <<EOF\nnever ends\n",
            "dockerfile parse error on line 3: unterminated heredoc",
            "   3 | >>> RUN <<EOF",
        ),
    ];
    for (text, want, marked) in cases {
        write(c, "Dockerfile", text);
        let r = build(&b, c, &[]);
        assert!(
            !r.stdout.contains("Step 1/"),
            "{text:?}: a step ran: {}",
            r.stdout
        );
        let err = r.fails();
        let last = err.lines().last().unwrap_or("");
        assert!(last.contains(want), "{text:?}: {err}");
        assert!(err.starts_with("Dockerfile:"), "{text:?}: {err}");
        assert!(err.lines().any(|l| l == marked), "{text:?}: {err}");
    }
    // A refused feature on the last line also fails before anything runs.
    write(
        c,
        "Dockerfile",
        "FROM scratch\nCOPY a /\nRUN --security=insecure true\n",
    );
    let r = build(&b, c, &[]);
    assert!(!r.stdout.contains("Step 1/"), "{}", r.stdout);
    assert!(r
        .fails()
        .contains("Dockerfile:3: RUN: RUN --security=insecure is not allowed"));
    let err = b.run(&["build", "/nonexistent-context"]).fails();
    assert!(err.contains("/nonexistent-context"), "{err}");
}

#[test]
fn root_a_killed_build_is_cleaned_up_by_the_next() {
    let b = busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    write(c, "Dockerfile", "FROM busybox\nRUN sleep 47.25\n");
    let mut child = b
        .cmd(&["build", c.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while b.run(&["ps", "-q"]).ok().trim().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the RUN step never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let sleeping = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .any(|c| c == b"sleep\x0047.25\x00")
    };
    assert!(sleeping(), "the step's process outlives its killed build");
    write(c, "Dockerfile", "FROM busybox\nRUN true\n");
    build(&b, c, &[]).ok();
    assert!(!sleeping(), "the next build stopped the abandoned step");
    assert_clean(&b);
}

#[test]
fn root_images_with_more_layers_than_fit_in_one_mount_option_page_build_and_run() {
    // ~90 bytes of lowerdir per layer: 50 layers exceed the page a mount's options fit in.
    let b = busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    let mut df = String::from("FROM busybox\n");
    for i in 1..=50 {
        df.push_str(&format!("RUN echo {i} > /layer{i}\n"));
    }
    write(c, "Dockerfile", &df);
    build(&b, c, &["-t", "tall"]).ok();
    assert_eq!(
        run_out(&b, &["tall", "cat", "/layer1", "/layer50"]),
        "1\n50\n"
    );
    assert_clean(&b);
}

#[test]
fn root_config_instructions_onbuild_user_and_dockerfile_elsewhere() {
    let b = busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    let elsewhere = tempfile::tempdir().unwrap();
    let df = elsewhere.path().join("app.Dockerfile");
    write(c, "kept", "k\n");
    write(c, "dropped", "d\n");
    // The ignore file beside a Dockerfile named NAME.Dockerfile wins over the context's.
    write(elsewhere.path(), "app.Dockerfile.dockerignore", "dropped\n");
    write(c, ".dockerignore", "kept\n");
    write(
        elsewhere.path(),
        "app.Dockerfile",
        r#"FROM busybox AS base
ONBUILD RUN echo triggered > /onbuild
FROM base
COPY kep? /
USER nobody
RUN echo "user=$(id -un)"
USER root
ARG TARGETOS
RUN echo "target-os=$TARGETOS"
ENTRYPOINT ["echo", "ep"]
HEALTHCHECK --interval=5s --retries=2 CMD true
"#,
    );
    let out = b
        .run(&[
            "build",
            "--progress=classic",
            "-f",
            df.to_str().unwrap(),
            "--build-arg",
            "UNUSED=1",
            "-t",
            "cfg",
            c.to_str().unwrap(),
        ])
        .ok();
    assert!(out.contains("\nuser=nobody\n"), "{out}");
    assert!(
        out.contains("\ntarget-os=linux\n"),
        "BuildKit's automatic platform ARGs: {out}"
    );
    assert!(
        out.contains("[Warning] One or more build-args [UNUSED] were not consumed"),
        "{out}"
    );
    assert_eq!(
        run_out(&b, &["cfg"]),
        "ep\n",
        "ENTRYPOINT drops the inherited CMD"
    );
    assert_eq!(run_out(&b, &["cfg", "x"]), "ep x\n");
    assert_eq!(
        run_out(&b, &["--entrypoint", "cat", "cfg", "/onbuild", "/kept"]),
        "triggered\nk\n"
    );
    let cfg = json(&b.run(&["image", "inspect", "cfg"]).ok())[0]["Config"].clone();
    assert_eq!(
        cfg["Healthcheck"]["Test"],
        serde_json::json!(["CMD-SHELL", "true"])
    );
    assert_eq!(cfg["Healthcheck"]["Interval"], 5_000_000_000i64);
    assert_eq!(cfg["Healthcheck"]["Retries"], 2);
    assert!(
        cfg["OnBuild"].is_null() || cfg["OnBuild"] == serde_json::json!([]),
        "triggers ran and are gone: {cfg}"
    );
    assert_clean(&b);
}

#[test]
fn root_run_mounts_cache_bind_tmpfs_and_secret() {
    let b = busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    write(c, "data/file", "from context\n");
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "s3cr3t").unwrap();
    write(
        c,
        "Dockerfile",
        r#"FROM busybox AS tools
RUN echo tool > /tool
FROM busybox
RUN --mount=type=cache,target=/cache sh -c 'echo x >> /cache/log; wc -l < /cache/log > /count'
RUN --mount=type=bind,source=data,target=/data cat /data/file > /copied
RUN --mount=type=bind,from=tools,source=/tool,target=/t cp /t /tool-copy
RUN --mount=type=tmpfs,target=/scratch sh -c 'echo t > /scratch/x && grep -q tmpfs /proc/mounts && cat /scratch/x > /tmpfs-ok'
RUN --mount=type=secret,id=token echo "secret-len-$(wc -c < /run/secrets/token)"
RUN --mount=type=bind,source=data,target=/data,rw sh -c 'echo scribble > /data/file'
"#,
    );
    let secret_arg = format!("id=token,src={}", secret.path().display());
    let out = build(&b, c, &["--secret", &secret_arg, "-t", "mounted"]).ok();
    assert!(out.contains("\nsecret-len-6\n"), "{out}");
    let check = "cat /count /copied /tool-copy /tmpfs-ok; ls /cache /data /t /scratch /run/secrets/token 2>/dev/null | wc -w";
    assert_eq!(
        run_out(&b, &["mounted", "sh", "-c", check]),
        "1\nfrom context\ntool\nt\n0\n"
    );
    assert_eq!(
        std::fs::read_to_string(c.join("data/file")).unwrap(),
        "from context\n",
        "rw bind writes are thrown away"
    );
    // The cache mount keeps its content between builds, even without the step cache.
    build(
        &b,
        c,
        &["--no-cache", "--secret", &secret_arg, "-t", "mounted"],
    )
    .ok();
    assert_eq!(run_out(&b, &["mounted", "cat", "/count"]), "2\n");
    // A required secret that is not given stops the build.
    write(
        c,
        "Dockerfile",
        "FROM busybox\nRUN --mount=type=secret,id=missing,required cat /run/secrets/missing\n",
    );
    let err = build(&b, c, &[]).fails();
    assert!(
        err.contains("Dockerfile:2: RUN: --mount: ") && err.contains("secret missing is required"),
        "{err}"
    );
    // A new cache starts as a copy of a stage's directory (`from=`/`source=`); once made, it
    // is the cache's own.
    write(
        c,
        "Dockerfile",
        "FROM busybox AS seed\nRUN mkdir -p /seed/data && echo seeded > /seed/data/v\n\
         FROM busybox\n\
         RUN --mount=type=cache,target=/c,id=seeded,from=seed,source=/seed/data cat /c/v && echo more > /c/w\n\
         RUN --mount=type=cache,target=/c,id=seeded ls /c > /listed\n",
    );
    let out = build(&b, c, &["-t", "seeded"]).ok();
    assert!(out.contains("\nseeded\n"), "{out}");
    assert_eq!(run_out(&b, &["seeded", "cat", "/listed"]), "v\nw\n");
    write(
        c,
        "Dockerfile",
        "FROM busybox\nRUN --mount=type=cache,target=/c,source=/x true\n",
    );
    let err = build(&b, c, &[]).fails();
    assert!(
        err.contains("source= in a cache mount needs from="),
        "{err}"
    );
    assert_clean(&b);
}

#[test]
fn root_dockerfile_or_context_on_standard_input() {
    let b = busybox();
    // `build -` with a Dockerfile: no context.
    b.run_stdin(
        &["build", "-t", "piped", "-"],
        b"FROM busybox\nRUN echo piped > /p\n",
    )
    .ok();
    assert_eq!(run_out(&b, &["piped", "cat", "/p"]), "piped\n");
    // `-f -` with a context directory.
    let ctx = tempfile::tempdir().unwrap();
    write(ctx.path(), "f", "from dir\n");
    b.run_stdin(
        &[
            "build",
            "-t",
            "dfpiped",
            "-f",
            "-",
            ctx.path().to_str().unwrap(),
        ],
        b"FROM busybox\nCOPY f /f\n",
    )
    .ok();
    assert_eq!(run_out(&b, &["dfpiped", "cat", "/f"]), "from dir\n");
    // `build -` with a gzipped tar of a context that holds the Dockerfile.
    let mut t = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (name, body) in [
        ("Dockerfile", &b"FROM busybox\nCOPY data /data\n"[..]),
        ("data", &b"from tar\n"[..]),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, name, body).unwrap();
    }
    let tgz = t.into_inner().unwrap().finish().unwrap();
    b.run_stdin(&["build", "-t", "tarpiped", "-"], &tgz).ok();
    assert_eq!(run_out(&b, &["tarpiped", "cat", "/data"]), "from tar\n");
    let err = b.run_stdin(&["build", "-f", "-", "-"], b"").fails();
    assert!(err.contains("can't use stdin for both"), "{err}");
    assert_clean(&b);
}

#[test]
fn root_links_in_the_context_never_reach_host_files() {
    let b = busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    std::os::unix::fs::symlink("/etc/passwd", c.join("leak")).unwrap();
    std::os::unix::fs::symlink("/etc", c.join("etcdir")).unwrap();
    for (df, want) in [
        ("FROM busybox\nCOPY leak /leak\n", "Dockerfile:2: COPY: "),
        (
            "FROM busybox\nCOPY etcdir/passwd /p\n",
            "Dockerfile:2: COPY: \"etcdir/passwd\" not found",
        ),
        (
            "FROM busybox\nRUN --mount=type=bind,source=etcdir,target=/h cat /h/passwd\n",
            "Dockerfile:2: RUN: ",
        ),
    ] {
        write(c, "Dockerfile", df);
        let err = build(&b, c, &[]).fails();
        assert!(err.contains(want), "{df:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    // A directory copied whole keeps its links as links.
    write(c, "tree/file", "f\n");
    std::os::unix::fs::symlink("/etc/passwd", c.join("tree/link")).unwrap();
    write(c, "Dockerfile", "FROM busybox\nCOPY tree /tree\n");
    build(&b, c, &["-t", "links"]).ok();
    assert_eq!(
        run_out(&b, &["links", "readlink", "/tree/link"]),
        "/etc/passwd\n"
    );
    assert_clean(&b);
}

#[test]
fn root_heredoc_scripts_with_their_own_interpreter_and_exec_form_run() {
    let b = busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    write(
        c,
        "Dockerfile",
        "FROM busybox\nRUN <<EOF\n#!/bin/cat\nprinted-by-$((1+1))-cat\nEOF\nRUN [\"/bin/sh\", \"-c\", \"echo exec-form-$((2+2)) > /exec\"]\n",
    );
    let out = build(&b, c, &["-t", "scripts"]).ok();
    // cat printed the script: it ran as a file with its #! line, not through sh.
    assert!(
        out.contains("#!/bin/cat\nprinted-by-$((1+1))-cat\n"),
        "{out}"
    );
    assert_eq!(
        run_out(&b, &["scripts", "sh", "-c", "cat /exec; ls /tmp | wc -l"]),
        "exec-form-4\n0\n"
    );
    assert_clean(&b);
}

#[test]
fn root_system_df_counts_containers_volumes_and_build_cache() {
    let b = busybox();
    let ctx = tempfile::tempdir().unwrap();
    write(
        ctx.path(),
        "Dockerfile",
        "FROM busybox\nRUN head -c 300000 /dev/zero > /zeros\n\
         RUN --mount=type=cache,target=/cache head -c 50000 /dev/zero > /cache/c\n",
    );
    build(&b, ctx.path(), &["-t", "df-built"]).ok();
    b.run(&["rmi", "df-built"]).ok();
    b.run(&["volume", "create", "data"]).ok();
    b.run(&[
        "run",
        "--name",
        "writer",
        "--network",
        "none",
        "-v",
        "data:/data",
        "busybox",
        "sh",
        "-c",
        "head -c 200000 /dev/zero > /data/z; head -c 100000 /dev/zero > /z",
    ])
    .ok();
    let row = |df: &str, kind: &str| -> Vec<String> {
        let line = df
            .lines()
            .find(|l| l.starts_with(kind))
            .unwrap_or_else(|| panic!("{kind}: {df}"));
        line[kind.len()..]
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let df = b.run(&["system", "df"]).ok();
    assert_eq!(row(&df, "Containers")[..2], ["1", "0"], "{df}");
    assert!(
        row(&df, "Containers")[2].starts_with("10"),
        "the container's own 100 kB: {df}"
    );
    assert_eq!(row(&df, "Local Volumes")[..2], ["1", "1"], "{df}");
    assert!(row(&df, "Local Volumes")[2].starts_with("20"), "{df}");
    let cache = row(&df, "Build Cache");
    assert_eq!(cache[0], "3", "two RUN steps and one cache mount: {df}");
    let kb = |s: &str| s.strip_suffix("kB").and_then(|n| n.parse::<f64>().ok());
    assert!(
        kb(&cache[2]).is_some_and(|k| k > 400.0),
        "the RUN layer only the cache keeps (its files and its blob) and the mount: {df}"
    );

    // -v: per-image container counts and Docker's four sections.
    b.run(&["create", "--name", "idle", "busybox", "true"]).ok();
    let v = b.run(&["system", "df", "-v"]).ok();
    let section = |title: &str| -> Vec<String> {
        let at = v.find(title).unwrap_or_else(|| panic!("{title}: {v}"));
        v[at..]
            .lines()
            .skip(2)
            .take_while(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    };
    let images = section("Images space usage:");
    assert!(images[0].starts_with("REPOSITORY   TAG"), "{v}");
    let busybox_row: Vec<&str> = images
        .iter()
        .find(|l| l.starts_with("busybox "))
        .unwrap_or_else(|| panic!("{v}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        busybox_row.last(),
        Some(&"2"),
        "two containers use busybox: {v}"
    );
    let ctrs = section("Containers space usage:");
    assert!(
        ctrs[0].starts_with("CONTAINER ID   IMAGE     COMMAND"),
        "{v}"
    );
    let writer = ctrs
        .iter()
        .find(|l| l.ends_with(" writer"))
        .expect("writer row");
    assert!(
        writer.contains("Exited (0)") && writer.contains("   1   "),
        "{writer}"
    );
    let vols = section("Local Volumes space usage:");
    assert_eq!(
        vols[0].split_whitespace().collect::<Vec<_>>(),
        ["VOLUME", "NAME", "LINKS", "SIZE"]
    );
    assert!(
        vols[1].starts_with("data ") && vols[1].contains(" 1 "),
        "{v}"
    );
    assert!(
        v.contains(&format!("Build cache usage: {}\n", cache[2])),
        "{v}"
    );
    let records = section("Build cache usage:");
    assert!(records[0].starts_with("CACHE ID"), "{v}");
    assert!(records.iter().any(|r| r.contains(" regular ")), "{v}");
    // A step shows when it ran and when a build last used it.
    assert!(
        records
            .iter()
            .filter(|r| r.contains(" regular "))
            .all(|r| r.matches(" ago ").count() == 2),
        "{v}"
    );
    assert!(
        records.iter().any(|r| r.contains(" exec.cachemount ")),
        "{v}"
    );
    b.run(&["rm", "writer", "idle"]).ok();

    // The size is what pruning the cache actually frees.
    let pruned = b.run(&["builder", "prune", "-f"]).ok();
    assert_eq!(
        pruned.trim(),
        format!("Total reclaimed space: {}", cache[2])
    );
    let df = b.run(&["system", "df"]).ok();
    assert_eq!(row(&df, "Containers")[..3], ["0", "0", "0B"], "{df}");
    assert_eq!(row(&df, "Build Cache")[..3], ["0", "0", "0B"], "{df}");
}

#[test]
fn root_onbuild_triggers_run_once_and_leave_the_image() {
    let b = busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    write(
        c,
        "Dockerfile",
        "FROM busybox\nONBUILD RUN echo ran > /triggered\n",
    );
    build(&b, c, &["-t", "with-trigger"]).ok();
    // A Dockerfile that is only FROM: the triggers run, and the new image has none left.
    write(c, "Dockerfile", "FROM with-trigger\n");
    build(&b, c, &["-t", "child"]).ok();
    assert_eq!(run_out(&b, &["child", "cat", "/triggered"]), "ran\n");
    let cfg = json(&b.run(&["image", "inspect", "child"]).ok())[0]["Config"].clone();
    assert!(
        cfg["OnBuild"].is_null() || cfg["OnBuild"] == serde_json::json!([]),
        "{cfg}"
    );
    let parent =
        json(&b.run(&["image", "inspect", "with-trigger"]).ok())[0]["Config"]["OnBuild"].clone();
    assert_eq!(parent, serde_json::json!(["RUN echo ran > /triggered"]));
    // A trigger that changes nothing but scope (ARG) is gone from the child all the same.
    write(c, "Dockerfile", "FROM busybox\nONBUILD ARG X\n");
    build(&b, c, &["-t", "arg-trigger"]).ok();
    write(c, "Dockerfile", "FROM arg-trigger\n");
    build(&b, c, &["-t", "arg-child"]).ok();
    let cfg = json(&b.run(&["image", "inspect", "arg-child"]).ok())[0]["Config"].clone();
    assert!(
        cfg["OnBuild"].is_null() || cfg["OnBuild"] == serde_json::json!([]),
        "{cfg}"
    );
    assert_clean(&b);
}

/// `COPY --parents` keeps the sources' directories under the destination, from the context's
/// root or from a `/./` pivot, for the context and for another stage alike.
#[test]
fn root_copy_parents_keeps_the_sources_directories() {
    let b = busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    for f in [
        "x/a.txt",
        "y/a.txt",
        "y/b.md",
        "src/app/main.py",
        "src/app/lib/util.py",
    ] {
        write(c, f, f);
    }
    write(
        c,
        "Dockerfile",
        "FROM busybox AS files\nCOPY . /ctx/\n\
         FROM busybox\nCOPY --parents */a.txt /p1/\nCOPY --parents src/./app/lib /p2/\n\
         COPY --parents y/b.md x /p3/\n\
         COPY --from=files --parents /ctx/./src/app/main.py /p4/\n",
    );
    build(&b, c, &["-t", "parents"]).ok();
    let out = run_out(
        &b,
        &[
            "parents",
            "sh",
            "-c",
            "cd / && find /p1 /p2 /p3 /p4 -type f | sort",
        ],
    );
    assert_eq!(
        out,
        "/p1/x/a.txt\n/p1/y/a.txt\n/p2/app/lib/util.py\n/p3/x/a.txt\n/p3/y/b.md\n/p4/src/app/main.py\n"
    );
    assert_clean(&b);
}

#[test]
fn root_copy_exclude_leaves_out_matching_files_below_the_source() {
    let b = busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    for f in [
        "docs/a.md",
        "docs/b.txt",
        "docs/sub/c.md",
        "home.txt",
        "homework.py",
    ] {
        write(c, f, f);
    }
    write(
        c,
        "Dockerfile",
        "FROM busybox AS files\nCOPY docs /srv/docs\nCOPY hom* /srv/\n\
         FROM busybox\nCOPY --exclude=*.md docs/ /docs/\nCOPY --exclude=**/*.md docs /all/\nCOPY --exclude=*.txt hom* /mydir/\n\
         COPY --from=files --exclude=**/*.md /srv/docs /staged/\n\
         COPY --from=files --exclude=*.txt /srv/hom* /staged-home/\n",
    );
    build(&b, c, &["-t", "excluded"]).ok();
    let out = run_out(
        &b,
        &[
            "excluded",
            "sh",
            "-c",
            "cd /docs && find . -type f | sort; cd /all && find . -type f | sort; ls /mydir; \
             cd /staged && find . -type f | sort; ls /staged-home",
        ],
    );
    // From another stage as from the context.
    assert_eq!(
        out,
        "./b.txt\n./sub/c.md\n./b.txt\nhomework.py\n./b.txt\nhomework.py\n"
    );
    assert_clean(&b);
}

#[test]
fn root_build_checks_warn_after_the_build_and_can_be_made_errors() {
    let b = busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    write(c, "Dockerfile", "FROM busybox as base\nMAINTAINER me\n");
    let out = build(&b, c, &["-t", "linted"]).ok();
    assert!(
        out.ends_with(" 2 warnings found:\n - FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)\n - MaintainerDeprecated: MAINTAINER instruction is deprecated in favor of using label (line 2)\n"),
        "{out}"
    );
    write(
        c,
        "Dockerfile",
        "# check=skip=FromAsCasing;error=true\nFROM busybox as base\nMAINTAINER me\n",
    );
    let err = build(&b, c, &["-t", "strict"]).fails();
    assert_eq!(
        err,
        "Error: Dockerfile:3: lint violation found for rules: MaintainerDeprecated\n"
    );
    assert!(b.run(&["image", "inspect", "strict"]).code != 0);
}

/// An HTTP server on 127.0.0.1 serving `files` (path → body) with a fixed Last-Modified,
/// 404 for anything else; it answers until the test ends.
fn http_server(files: Vec<(&'static str, Vec<u8>)>) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in l.incoming().flatten().take(50) {
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut first = String::new();
            r.read_line(&mut first).unwrap_or(0);
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut w = conn;
            match files.iter().find(|(p, _)| *p == path) {
                Some((_, body)) => {
                    let _ = write!(w, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLast-Modified: Wed, 21 Oct 2015 07:28:00 GMT\r\nConnection: close\r\n\r\n", body.len());
                    let _ = w.write_all(body);
                }
                None => {
                    let _ = write!(
                        w,
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                }
            }
        }
    });
    port
}

#[test]
fn root_add_downloads_urls_without_unpacking_them() {
    use sha2::Digest;
    let b = busybox();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, b"not unpacked").unwrap();
    let gz = gz.finish().unwrap();
    let hello = b"hello over http\n".to_vec();
    let sum = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&hello)));
    let port = http_server(vec![("/files/hello.txt", hello), ("/files/data.gz", gz)]);
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    write(
        c,
        "Dockerfile",
        &format!(
            "FROM busybox\nADD {} /opt/\nADD --checksum={sum} {} /renamed.txt\nADD {} /opt/\n",
            url("/files/hello.txt"),
            url("/files/hello.txt"),
            url("/files/data.gz")
        ),
    );
    build(&b, c, &["-t", "downloaded"]).ok();
    let out = run_out(
        &b,
        &["downloaded", "sh", "-c", "cat /opt/hello.txt /renamed.txt; stat -c '%a %Y' /opt/hello.txt; gzip -dc /opt/data.gz"],
    );
    assert_eq!(
        out,
        "hello over http\nhello over http\n600 1445412480\nnot unpacked"
    );
    // A wrong checksum, a missing file and COPY of a URL: one clear error each.
    for (df, want) in [
        (
            format!(
                "FROM busybox\nADD --checksum=sha256:{} {} /x\n",
                "0".repeat(64),
                url("/files/hello.txt")
            ),
            "checksum mismatch",
        ),
        (format!("FROM busybox\nADD {} /x\n", url("/nope")), "404"),
        (
            format!("FROM busybox\nCOPY {} /x\n", url("/files/hello.txt")),
            "source can't be a URL for COPY",
        ),
    ] {
        write(c, "Dockerfile", &df);
        let err = build(&b, c, &[]).fails();
        assert!(
            err.starts_with("Error: Dockerfile:2: ") && err.contains(want),
            "{df}: {err}"
        );
    }
    assert_clean(&b);
}

#[test]
fn root_buildkit_plain_display_shows_steps_output_timings_and_cache() {
    let b = busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    write(
        c,
        "Dockerfile",
        "FROM busybox AS a\nRUN echo from-a > /a && echo said-a\nFROM busybox\nCOPY --from=a /a /a\nRUN cat /a\n",
    );
    let dir = c.to_str().unwrap();
    // Without a terminal `auto` is `plain`: BuildKit's lines on stderr, nothing on stdout.
    let r = b.run(&["build", "-t", "shown", dir]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "");
    let err = &r.stderr;
    for want in [
        "[a 1/2] FROM busybox\n",
        "[a 2/2] RUN echo from-a > /a && echo said-a\n",
        "[stage-1 2/3] COPY --from=a /a /a\n",
        " exporting to image\n",
    ] {
        assert!(err.contains(want), "{want:?} missing:\n{err}");
    }
    let export = err
        .lines()
        .find(|l| l.ends_with(" exporting to image"))
        .and_then(|l| l.split(' ').next())
        .unwrap_or_default();
    assert!(
        err.contains(&format!(
            "{export} naming to docker.io/library/shown:latest done\n{export} DONE"
        )),
        "{err}"
    );
    // RUN output with the seconds since the step began, then the step's time.
    let said = err
        .lines()
        .find(|l| {
            l.ends_with(" said-a")
                && l.split(' ')
                    .nth(1)
                    .is_some_and(|t| t.parse::<f64>().is_ok())
        })
        .unwrap_or_else(|| panic!("no RUN output:\n{err}"));
    let parts: Vec<&str> = said.split(' ').collect();
    assert!(
        parts[0].starts_with('#') && parts[1].parse::<f64>().is_ok(),
        "{said}"
    );
    let id = parts[0];
    assert!(
        err.lines()
            .any(|l| l.starts_with(&format!("{id} DONE ")) && l.ends_with('s')),
        "{err}"
    );
    // Again: every step is CACHED; `--progress=quiet` prints the ID alone.
    let again = b
        .run(&["build", "--progress=plain", "-t", "shown", dir])
        .stderr;
    assert_eq!(again.matches(" CACHED\n").count(), 3, "{again}");
    let q = b.run(&["build", "--progress=quiet", dir]);
    assert!(
        q.stdout.starts_with("sha256:") && q.stderr.is_empty(),
        "{q:?}"
    );
    // A failing RUN: its step ends in ERROR, then the error.
    write(c, "Dockerfile", "FROM busybox\nRUN echo going && exit 4\n");
    let err = b.run(&["build", "--progress", "plain", dir]).fails();
    assert!(err.contains("#2 0."), "{err}");
    assert!(
        err.contains("#2 ERROR: Dockerfile:2: RUN: process \"/bin/sh -c echo going && exit 4\" did not complete successfully: exit code: 4"),
        "{err}"
    );
    let e = b.run(&["build", "--progress=fancy", dir]).fails();
    assert!(
        e.contains("invalid argument \"fancy\" for \"--progress\" flag"),
        "{e}"
    );
    assert_clean(&b);
}

#[test]
fn root_buildkit_tty_display_draws_live_steps_on_a_terminal() {
    assert!(
        common::have_tool("tmux"),
        "tmux is needed to give the build a terminal"
    );
    let b = busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    write(
        c,
        "Dockerfile",
        "FROM busybox\nRUN echo tick-1 && sleep 3 && echo tick-2\nENV DONE=1\n",
    );
    let session = format!("berth-tty-{}", std::process::id());
    let command = format!(
        "{} --root {} build -t live {} ; echo exit=$? ; sleep 60",
        common::bin(),
        b.root().display(),
        c.display()
    );
    let tmux = |args: &[&str]| {
        std::process::Command::new("tmux")
            .args(args)
            .output()
            .expect("tmux")
    };
    let started = tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "100",
        "-y",
        "30",
        &command,
    ]);
    assert!(started.status.success(), "{started:?}");
    let capture = || {
        String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", &session]).stdout).into_owned()
    };
    let wait_for = |what: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let screen = capture();
            if screen.contains(what) {
                return screen;
            }
            if std::time::Instant::now() > deadline {
                tmux(&["kill-session", "-t", &session]);
                panic!("{what:?} never showed:\n{screen}");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    // While the RUN step runs: the header with its timer, the step, the tail of its output.
    let running = wait_for("=> => # tick-1");
    assert!(running.contains("[+] Building "), "{running}");
    assert!(
        running.contains(" => [2/3] RUN echo tick-1 && sleep 3 && echo tick-2"),
        "{running}"
    );
    // At the end, one frame: FINISHED, every step with its time, no output tails.
    let done = wait_for("exit=0");
    tmux(&["kill-session", "-t", &session]);
    assert!(done.contains("(3/3) FINISHED"), "{done}");
    assert_eq!(
        done.matches("[+] Building").count(),
        1,
        "redrawn in place:\n{done}"
    );
    assert!(!done.contains("=> => # tick"), "{done}");
    assert!(
        done.lines()
            .any(|l| l.contains(" => [3/3] ENV DONE=1") && l.trim_end().ends_with('s')),
        "{done}"
    );
    assert!(
        done.contains("=> => naming to docker.io/library/live:latest"),
        "{done}"
    );
}

#[test]
fn root_outputs_put_the_result_in_a_directory_a_tar_or_an_archive() {
    let b = busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    write(c, "Dockerfile", "FROM busybox AS base\nRUN echo made > /made && chmod 0640 /made\nFROM scratch\nCOPY --from=base /made /out/made\n");
    let out = tempfile::tempdir().unwrap();
    let o = out.path();
    let dir = c.to_str().unwrap();
    // type=local: the files, modes kept.
    let local = o.join("local");
    let arg = format!("type=local,dest={}", local.display());
    build(&b, c, &["-o", &arg, "-t", "exported"]).ok();
    assert_eq!(
        std::fs::read_to_string(local.join("out/made")).unwrap(),
        "made\n"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(local.join("out/made"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
    // `-o DIR` is the same; `-o -` and type=tar give one tar of the files.
    let short = o.join("short");
    build(&b, c, &["-o", short.to_str().unwrap()]).ok();
    assert!(short.join("out/made").is_file());
    let tar_file = o.join("files.tar");
    build(
        &b,
        c,
        &["--output", &format!("type=tar,dest={}", tar_file.display())],
    )
    .ok();
    let names = |bytes: &[u8]| -> Vec<String> {
        tar::Archive::new(bytes)
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect()
    };
    let listed = names(&std::fs::read(&tar_file).unwrap());
    assert!(
        listed.iter().any(|n| n.trim_end_matches('/') == "out/made"),
        "{listed:?}"
    );
    let piped = b.cmd(&["build", "-q", "-o", "-", dir]).output().unwrap();
    assert!(piped.status.success());
    assert!(names(&piped.stdout).iter().any(|n| n == "out/made"));
    // type=docker: an archive another store loads.
    let archive = o.join("image.tar");
    build(
        &b,
        c,
        &[
            "-t",
            "exported:2",
            "-o",
            &format!("type=docker,dest={}", archive.display()),
        ],
    )
    .ok();
    let other = Berth::new();
    let loaded = other.run(&["load", "-i", archive.to_str().unwrap()]).ok();
    assert!(loaded.contains("Loaded image: exported:2"), "{loaded}");
    // Bad values name the flag and what was expected.
    let err = build(&b, c, &["-o", "type=nope"]).fails();
    assert!(
        err.contains(
            "invalid argument \"type=nope\" for \"-o, --output\" flag: unsupported type \"nope\""
        ),
        "{err}"
    );
    let err = build(&b, c, &["-o", "type=local"]).fails();
    assert!(err.contains("type=local needs dest=DIRECTORY"), "{err}");
    assert_clean(&b);
}

#[test]
fn root_build_cache_keeps_to_a_size_least_recently_used_first() {
    let b = busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    let random = |name: &str| {
        let mut bytes = vec![0u8; 300_000];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
            .unwrap();
        std::fs::write(c.join(name), bytes).unwrap();
    };
    random("one");
    random("two");
    let dockerfile = |name: &str| {
        write(
            c,
            "Dockerfile",
            &format!("FROM busybox\nCOPY {name} /{name}\n"),
        )
    };
    // Whether a build of `name` is a cache hit; the untagged image it leaves is removed, so
    // that its layers are again the cache's alone.
    let cached = |name: &str| {
        dockerfile(name);
        let hit = build(&b, c, &[]).ok().contains("Using cache");
        b.run(&["image", "prune", "-f"]).ok();
        hit
    };
    // Two builds whose layers only the cache keeps (their images are gone).
    for name in ["one", "two"] {
        dockerfile(name);
        build(&b, c, &["-t", name]).ok();
        b.run(&["rmi", name]).ok();
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    // Nothing was used more than an hour ago; a bad filter is named.
    b.run(&["builder", "prune", "-f", "--filter", "until=1h"])
        .ok();
    let err = b
        .run(&["builder", "prune", "-f", "--filter", "id=x"])
        .fails();
    assert!(
        err.contains("invalid filter 'id': supported filters are until"),
        "{err}"
    );
    // Room for one of the two: the one used last stays.
    let out = b
        .run(&["builder", "prune", "-f", "--keep-storage", "400k"])
        .ok();
    assert!(out.starts_with("Total reclaimed space: "), "{out}");
    assert!(!out.contains(": 0B"), "something was freed: {out}");
    assert!(cached("two"), "the newest entry stays");
    assert!(!cached("one"), "the oldest entry went");
    // The default policy after a build that stored something: here a limit of 1 byte keeps
    // only what images hold.
    dockerfile("two");
    build(&b, c, &["--no-cache", "-t", "two"]).ok();
    b.run(&["rmi", "two"]).ok();
    dockerfile("one");
    let r = b.run_env(
        &[
            "build",
            "--progress=classic",
            "--no-cache",
            "-t",
            "one",
            c.to_str().unwrap(),
        ],
        "BERTH_BUILD_KEEP_STORAGE",
        std::path::Path::new("1"),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!cached("two"), "an entry only the cache held went");
    assert!(cached("one"), "an entry its image holds stays");
    assert_clean(&b);
}

/// The steps of an index written by `--cache-to` (its entries with a cache key).
fn cache_entries(dir: &Path) -> usize {
    let index = json(&std::fs::read_to_string(dir.join("index.json")).unwrap());
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["annotations"]["dev.berth.build-cache.key"].is_string())
        .count()
}

/// `--cache-to` writes the steps' cache to a directory or a registry (`mode=min`: the final
/// image's steps; `mode=max`: every stage's), and a fresh store with `--cache-from` reuses
/// it: the same steps are not run again and give the same image. A changed file reruns from
/// its step on. A cache that is not there is a warning, not a failure.
#[test]
fn root_build_cache_exported_to_a_directory_or_registry_serves_a_fresh_store() {
    let reg = common::registry_server::Registry::start(None);
    let a = busybox();
    let image_tar = tempfile::tempdir().unwrap();
    let saved = image_tar.path().join("busybox.tar");
    a.run(&["save", "-o", saved.to_str().unwrap(), "busybox"])
        .ok();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    write(c, "f", "one\n");
    // Each RUN prints a marker only a run shows, and keeps a stamp only that run made.
    write(
        c,
        "Dockerfile",
        "FROM busybox AS tool\nRUN echo ran-$((40+2))-tool && date +%s%N > /tool-stamp\n\
         FROM busybox\nCOPY --from=tool /tool-stamp /tool-stamp\n\
         RUN echo ran-$((40+2))-final && date +%s%N > /stamp\nCOPY f /f\n",
    );
    let caches = tempfile::tempdir().unwrap();
    let (min, max) = (caches.path().join("min"), caches.path().join("max"));
    let cache_ref = format!("{}/app:buildcache", reg.host());
    let out = build(
        &a,
        c,
        &[
            "-t",
            "app",
            "--cache-to",
            &format!("type=local,dest={}", min.display()),
            "--cache-to",
            &format!("type=local,dest={},mode=max", max.display()),
            "--cache-to",
            &format!("type=registry,ref={cache_ref},mode=max"),
        ],
    )
    .ok();
    assert!(
        out.contains("ran-42-tool") && out.contains("ran-42-final"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "Exported the cache of 3 steps to type=local,dest={}",
            min.display()
        )),
        "{out}"
    );
    // The COPY --from step has two keys (its source's definition and the files it copies).
    assert_eq!(cache_entries(&min), 4, "the final stage's steps");
    assert_eq!(cache_entries(&max), 5, "every stage's steps");
    assert!(min.join("oci-layout").is_file());
    let stamp = run_out(&a, &["app", "cat", "/stamp"]);
    let id = a.run(&["image", "inspect", "-f", "{{.Id}}", "app"]).ok();

    // A fresh store with the same base image: every step comes from the cache.
    let fresh = |cache_from: &str| {
        let b = Berth::new();
        b.run(&["load", "-i", saved.to_str().unwrap()]).ok();
        let out = build(&b, c, &["-t", "app", "--cache-from", cache_from]).ok();
        (b, out)
    };
    for from in [
        format!("type=local,src={}", max.display()),
        cache_ref.clone(),
    ] {
        let (b, out) = fresh(&from);
        assert!(!out.contains("ran-42-"), "{from}: nothing runs: {out}");
        assert_eq!(out.matches("Using cache").count(), 4, "{from}: {out}");
        assert_eq!(run_out(&b, &["app", "cat", "/stamp"]), stamp, "{from}");
        assert_eq!(
            b.run(&["image", "inspect", "-f", "{{.Id}}", "app"]).ok(),
            id,
            "{from}: the same image"
        );
        if from == cache_ref {
            // A change reruns its step only; what came before it is still reused.
            write(c, "f", "two\n");
            let out = build(&b, c, &["-t", "app", "--cache-from", &from]).ok();
            assert!(!out.contains("ran-42-"), "{out}");
            assert_eq!(out.matches("Using cache").count(), 3, "{out}");
            assert_eq!(run_out(&b, &["app", "cat", "/f"]), "two\n");
            write(c, "f", "one\n");
        }
        assert_clean(&b);
    }
    // An inline cache travels in the pushed image: a fresh store reuses its steps.
    let inline_ref = format!("{}/app:inline", reg.host());
    let out = build(&a, c, &["-t", &inline_ref, "--cache-to", "type=inline"]).ok();
    assert!(
        out.contains("Exported the cache of 3 steps to type=inline"),
        "{out}"
    );
    a.run(&["push", &inline_ref]).ok();
    let (b, out) = fresh(&inline_ref);
    assert!(!out.contains("ran-42-final"), "{out}");
    assert_eq!(run_out(&b, &["app", "cat", "/stamp"]), stamp);
    assert_clean(&b);

    // mode=min holds the final stage only: the tool stage runs again (its result is keyed
    // by its step, so the final stage's steps still come from the cache).
    let (b, out) = fresh(&format!("type=local,src={}", min.display()));
    assert!(
        out.contains("ran-42-tool") && !out.contains("ran-42-final"),
        "{out}"
    );
    assert_eq!(out.matches("Using cache").count(), 3, "{out}");
    assert_clean(&b);

    // A cache that is not there: a warning, and the build goes on.
    let b = Berth::new();
    b.run(&["load", "-i", saved.to_str().unwrap()]).ok();
    let r = build(
        &b,
        c,
        &["--cache-from", "type=local,src=/nonexistent-cache"],
    );
    let stdout = r.stdout.clone();
    r.ok();
    assert!(
        stdout.contains("failed to import cache type=local,src=/nonexistent-cache"),
        "{stdout}"
    );
    let err = build(&b, c, &["--cache-to", "type=gha"]).fails();
    assert!(
        err.contains("unsupported cache exporter type \"gha\""),
        "{err}"
    );
    assert_clean(&b);
    assert_clean(&a);
}

/// `RUN --mount=type=ssh` gets a socket of its own for the agent `--ssh` names (relayed to it;
/// the relay itself is unit-tested in `ssh_forwarding`), with `SSH_AUTH_SOCK` pointing at
/// it, the mount's mode and owner; nothing of it stays in the image. Without `--ssh` the
/// mount is left out, unless it is required.
#[test]
fn root_ssh_mounts_reach_the_forwarded_agent_socket() {
    let b = busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    let agent_dir = tempfile::tempdir().unwrap();
    let agent = agent_dir.path().join("agent.sock");
    let _listening = std::os::unix::net::UnixListener::bind(&agent).unwrap();
    write(
        c,
        "Dockerfile",
        "FROM busybox\n\
         RUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" && echo \"agent-at=$SSH_AUTH_SOCK\" && stat -c mode-%a \"$SSH_AUTH_SOCK\"\n\
         RUN --mount=type=ssh,id=deploy,target=/deploy.sock,mode=0660,uid=1000 stat -c owner-%u-%a /deploy.sock && true\n",
    );
    let out = b
        .run_env(
            &[
                "build",
                "--progress=classic",
                "--ssh",
                "default",
                "--ssh",
                &format!("deploy={}", agent.display()),
                "-t",
                "ssh",
                c.to_str().unwrap(),
            ],
            "SSH_AUTH_SOCK",
            &agent,
        )
        .ok();
    assert!(
        out.contains("\nagent-at=/run/buildkit/ssh_agent.0\nmode-600\n"),
        "{out}"
    );
    assert!(out.contains("\nowner-1000-660\n"), "{out}");
    assert_eq!(
        run_out(
            &b,
            &[
                "ssh",
                "sh",
                "-c",
                "test -e /run/buildkit/ssh_agent.0 || echo gone; test -e /deploy.sock || echo gone"
            ]
        ),
        "gone\ngone\n",
        "no socket and no mount point left in the image"
    );
    // Not forwarded: an optional mount is left out, a required one stops the build.
    write(
        c,
        "Dockerfile",
        "FROM busybox\nRUN --mount=type=ssh echo \"sock=${SSH_AUTH_SOCK:-none}\"\n",
    );
    let out = build(&b, c, &["--no-cache"]).ok();
    assert!(out.contains("\nsock=none\n"), "{out}");
    write(
        c,
        "Dockerfile",
        "FROM busybox\nRUN --mount=type=ssh,required=true true\n",
    );
    let err = build(&b, c, &[]).fails();
    assert!(err.contains("no SSH agent \"default\" forwarded"), "{err}");
    let err = b
        .run(&[
            "build",
            "--ssh",
            "default=/etc/hostname",
            c.to_str().unwrap(),
        ])
        .fails();
    assert!(err.contains("not a private key ssh-add can load"), "{err}");
    // A key file: an agent of the build's own serves it, and goes when the build ends.
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("id_ed25519");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen (openssh-client)");
    assert!(made.success());
    write(
        c,
        "Dockerfile",
        "FROM busybox\nRUN --mount=type=ssh,required=true test -S \"$SSH_AUTH_SOCK\" && echo keyed\n",
    );
    let agents_before = count_processes("ssh-agent");
    let out = b
        .run(&[
            "build",
            "--progress=classic",
            "--no-cache",
            "--ssh",
            &format!("default={}", key.display()),
            c.to_str().unwrap(),
        ])
        .ok();
    assert!(out.contains("\nkeyed\n"), "{out}");
    assert_eq!(
        count_processes("ssh-agent"),
        agents_before,
        "the build's agent stopped"
    );
    assert_clean(&b);
}

/// How many processes run the program `name`.
fn count_processes(name: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == name))
        .count()
}

/// `git daemon` serving the repositories under `base` on 127.0.0.1; killed on drop.
struct GitDaemon(std::process::Child, u16);

impl GitDaemon {
    fn start(base: &Path) -> GitDaemon {
        let port = common::registry_server::free_port();
        // git-daemon itself, not `git daemon`: git would run it as a child of its own,
        // which killing git leaves running.
        let exec_path = std::process::Command::new("git")
            .arg("--exec-path")
            .output()
            .expect("git --exec-path");
        let exec_path = String::from_utf8_lossy(&exec_path.stdout)
            .trim()
            .to_string();
        let child = std::process::Command::new(Path::new(&exec_path).join("git-daemon"))
            .args([
                "--reuseaddr",
                "--export-all",
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                &format!("--base-path={}", base.display()),
                &base.display().to_string(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("git daemon");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "git daemon did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        GitDaemon(child, port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `ADD git://…#REF[:SUBDIR]` clones the commit the ref names (tags, branches, HEAD), keeps
/// `.git` only when asked, and is cached by that commit: a new commit reruns the steps that
/// follow a branch, not those of a tag. A git URL is also a build context.
#[test]
fn root_add_clones_git_refs_and_a_repository_is_a_context() {
    let b = busybox();
    let srv = tempfile::tempdir().unwrap();
    let work = srv.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let git = |dir: &Path, args: &[&str]| {
        let out = std::process::Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&work, &["init", "-q"]);
    write(&work, "file", "one\n");
    write(&work, "docs/readme", "read me\n");
    write(&work, "Dockerfile", "FROM busybox\nCOPY . /src\n");
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "one"]);
    git(&work, &["tag", "-a", "v1", "-m", "v1"]);
    write(&work, "file", "two\n");
    git(&work, &["commit", "-q", "-am", "two"]);
    git(srv.path(), &["clone", "-q", "--bare", "work", "app.git"]);
    let app_git = srv.path().join("app.git").display().to_string();
    let push_main = || git(&work, &["push", "-q", &app_git, "main"]);
    let daemon = GitDaemon::start(srv.path());
    let url = format!("git://127.0.0.1:{}/app.git", daemon.1);

    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    write(
        c,
        "Dockerfile",
        &format!(
            "FROM busybox\nADD {url}#v1 /v1\nADD --keep-git-dir=true {url} /head\nADD {url}#main:docs /docs\n"
        ),
    );
    let out = build(&b, c, &["-t", "cloned"]).ok();
    assert_eq!(out.matches("Using cache").count(), 0, "{out}");
    let check = "cat /v1/file /head/file /docs/readme; test -d /head/.git && echo kept; \
                 test -e /v1/.git || echo dropped";
    assert_eq!(
        run_out(&b, &["cloned", "sh", "-c", check]),
        "one\ntwo\nread me\nkept\ndropped\n"
    );
    let again = build(&b, c, &["-t", "cloned"]).ok();
    assert_eq!(again.matches("Using cache").count(), 3, "{again}");
    // A new commit on main: the branch's steps run again, the tag's does not.
    write(&work, "file", "three\n");
    git(&work, &["commit", "-q", "-am", "three"]);
    push_main();
    let moved = build(&b, c, &["-t", "cloned"]).ok();
    assert_eq!(moved.matches("Using cache").count(), 1, "{moved}");
    assert_eq!(run_out(&b, &["cloned", "cat", "/head/file"]), "three\n");

    // The repository as the context, its Dockerfile used.
    let r = b.run(&[
        "build",
        "--progress=classic",
        "-t",
        "fromgit",
        &format!("{url}#v1"),
    ]);
    r.ok();
    assert_eq!(run_out(&b, &["fromgit", "cat", "/src/file"]), "one\n");
    // BuildKit's query form: the same refs, and its mistakes named.
    write(
        c,
        "Dockerfile",
        &format!("FROM busybox\nADD {url}?branch=main&subdir=docs /q\n"),
    );
    build(&b, c, &["-t", "queried"]).ok();
    assert_eq!(run_out(&b, &["queried", "cat", "/q/readme"]), "read me\n");
    b.run(&[
        "build",
        "--progress=classic",
        "-t",
        "fromquery",
        &format!("{url}?tag=v1"),
    ])
    .ok();
    assert_eq!(run_out(&b, &["fromquery", "cat", "/src/file"]), "one\n");
    // Submodules are checked out too, as BuildKit does (a relative URL is resolved against
    // the repository's), unless `?submodules=false`; their `.git` goes with the rest.
    let libwork = srv.path().join("libwork");
    std::fs::create_dir_all(&libwork).unwrap();
    git(&libwork, &["init", "-q"]);
    write(&libwork, "version", "lib 1\n");
    git(&libwork, &["add", "."]);
    git(&libwork, &["commit", "-q", "-m", "lib"]);
    git(srv.path(), &["clone", "-q", "--bare", "libwork", "lib.git"]);
    let lib_bare = srv.path().join("lib.git").display().to_string();
    git(
        &work,
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "-q",
            &lib_bare,
            "vendor/lib",
        ],
    );
    git(
        &work,
        &[
            "config",
            "-f",
            ".gitmodules",
            "submodule.vendor/lib.url",
            "../lib.git",
        ],
    );
    git(&work, &["commit", "-q", "-am", "with a submodule"]);
    push_main();
    write(
        c,
        "Dockerfile",
        &format!(
            "FROM busybox\nADD {url}#main /sub\nADD {url}?branch=main&submodules=false /nosub\n"
        ),
    );
    build(&b, c, &["-t", "submodules"]).ok();
    let check = "cat /sub/vendor/lib/version; test -e /sub/vendor/lib/.git || echo no-git; \
                 ls -A /nosub/vendor/lib | wc -l";
    assert_eq!(
        run_out(&b, &["submodules", "sh", "-c", check]).replace(' ', ""),
        "lib1\nno-git\n0\n"
    );
    write(
        c,
        "Dockerfile",
        &format!("FROM busybox\nADD {url}?depth=1 /x\n"),
    );
    let err = build(&b, c, &[]).fails();
    assert!(err.contains("unknown query parameter \"depth\""), "{err}");
    write(
        c,
        "Dockerfile",
        &format!("FROM busybox\nADD {url}#nope /x\n"),
    );
    let err = build(&b, c, &[]).fails();
    assert!(
        err.contains("no branch, tag or ref named \"nope\""),
        "{err}"
    );
    let err = b.run(&["build", &format!("{url}#nope")]).fails();
    assert!(err.contains("unable to prepare context"), "{err}");
    drop(daemon);
    assert_clean(&b);
}

/// `COPY --from=STAGE` is keyed on what it copies (contents, modes, owners), as BuildKit
/// keys it: a stage rebuilt to the same files leaves the copy and the steps after it cached;
/// a changed file or owner runs them again.
#[test]
fn root_copy_from_a_stage_is_keyed_on_the_files_it_copies() {
    let b = busybox();
    let ctx = tempfile::tempdir().unwrap();
    let c = ctx.path();
    write(
        c,
        "Dockerfile",
        "FROM busybox AS gen\n\
         ARG NOISE=1\n\
         ARG OUT=same\n\
         ARG OWNER=0\n\
         RUN echo \"$NOISE\" > /noise && echo \"$OUT\" > /out.txt && chown \"$OWNER\" /out.txt\n\
         FROM busybox\n\
         COPY --from=gen /out.txt /out.txt\n\
         RUN stat -c %u /out.txt > /owner && cat /out.txt > /copied\n",
    );
    let with = |args: &[&str]| {
        let mut a = vec!["-t", "fromkey"];
        for x in args {
            a.extend(["--build-arg", x]);
        }
        build(&b, c, &a).ok()
    };
    let first = with(&["NOISE=1"]);
    assert_eq!(first.matches("Using cache").count(), 0, "{first}");
    // The stage's RUN runs again (another NOISE) but makes the same /out.txt.
    let noisy = with(&["NOISE=2"]);
    assert_eq!(
        noisy.matches("Using cache").count(),
        2,
        "the COPY and the RUN after it are cached:\n{noisy}"
    );
    // Other contents, then another owner: the copy runs again.
    let changed = with(&["NOISE=2", "OUT=other"]);
    assert_eq!(changed.matches("Using cache").count(), 0, "{changed}");
    assert_eq!(run_out(&b, &["fromkey", "cat", "/copied"]), "other\n");
    let owned = with(&["NOISE=2", "OUT=other", "OWNER=1000"]);
    assert_eq!(owned.matches("Using cache").count(), 0, "{owned}");
    assert_eq!(run_out(&b, &["fromkey", "cat", "/owner"]), "1000\n");
    // Fully cached: every step, the source read from the cache's note.
    let again = with(&["NOISE=2", "OUT=other", "OWNER=1000"]);
    assert_eq!(again.matches("Using cache").count(), 3, "{again}");
    assert_clean(&b);
}
