//! End-to-end tests of `logs`: tail, since/until (Docker's time forms), timestamps, streams
//! kept apart, and `-f` that prints lines as they come and ends when the container stops.

mod common;

use common::Berth;

#[test]
fn root_logs_select_by_time_and_follow_to_the_end() {
    let b = Berth::new();
    b.import_busybox("busybox");
    b.run(&[
        "run",
        "-d",
        "--name",
        "talker",
        "busybox",
        "sh",
        "-c",
        "echo one; sleep 1; echo two >&2; sleep 1; echo three",
    ])
    .ok();
    // -f prints what is there and what comes, then ends with the container.
    let followed = b.run(&["logs", "-f", "talker"]);
    assert_eq!(followed.code, 0, "{}", followed.stderr);
    assert_eq!(followed.stdout, "one\nthree\n");
    assert_eq!(followed.stderr, "two\n");

    let stamped = b.run(&["logs", "-t", "talker"]);
    let time_of = |text: &str, word: &str| -> String {
        text.lines()
            .find(|l| l.ends_with(word))
            .and_then(|l| l.split_once(' '))
            .map(|(t, _)| t.to_string())
            .unwrap_or_else(|| panic!("{word} in {text}"))
    };
    let t_two = time_of(&stamped.stderr, " two");
    let t_three = time_of(&stamped.stdout, " three");
    assert!(t_two < t_three);

    let r = b.run(&["logs", "--until", &t_two, "talker"]);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("one\n", ""));
    let r = b.run(&["logs", "--since", &t_two, "talker"]);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("three\n", "two\n"));
    let r = b.run(&["logs", "--since", &t_two, "--until", &t_three, "talker"]);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", "two\n"));
    let r = b.run(&["logs", "--since", "1h", "--tail", "1", "talker"]);
    assert_eq!(r.stdout, "three\n");
    // Unix seconds in the future: nothing yet.
    let r = b.run(&["logs", "--since", "4102444800", "talker"]);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""));

    let err = b.run(&["logs", "--since", "soon", "talker"]).fails();
    assert_eq!(
        err.trim(),
        "Error: invalid value for \"since\": failed to parse value as time or duration: \"soon\""
    );
    b.run(&["rm", "talker"]).ok();
}
