//! End-to-end test of `images --filter`: reference globs, labels, before/since/until,
//! dangling.

mod common;

use common::{busybox_tar, Berth};

#[test]
fn root_images_filters_select_as_docker() {
    let b = Berth::new();
    let tar = busybox_tar();
    let tar = tar.to_str().unwrap();
    b.run(&["import", "-c", "LABEL tier=web", tar, "team/alpha:1"])
        .ok();
    std::thread::sleep(std::time::Duration::from_millis(20));
    b.run(&["import", "-c", "LABEL tier=db", tar, "team/beta:2"])
        .ok();
    std::thread::sleep(std::time::Duration::from_millis(20));
    b.run(&["import", tar, "solo:3"]).ok();
    let names = |filters: &[&str]| -> Vec<String> {
        let mut args = vec!["images", "--format", "{{.Repository}}:{{.Tag}}"];
        for f in filters {
            args.push("--filter");
            args.push(f);
        }
        let mut v: Vec<String> = b.run(&args).ok().lines().map(str::to_string).collect();
        v.sort();
        v
    };
    assert_eq!(
        names(&["reference=team/*"]),
        ["team/alpha:1", "team/beta:2"]
    );
    assert_eq!(names(&["reference=*:3"]), ["solo:3"]);
    assert_eq!(
        names(&["reference=team/alpha", "reference=solo"]),
        ["solo:3", "team/alpha:1"]
    );
    assert_eq!(names(&["label=tier"]), ["team/alpha:1", "team/beta:2"]);
    assert_eq!(names(&["label=tier=db"]), ["team/beta:2"]);
    assert_eq!(names(&["before=team/beta:2"]), ["team/alpha:1"]);
    assert_eq!(names(&["since=team/beta:2"]), ["solo:3"]);
    assert_eq!(
        names(&["dangling=false", "label=tier=web"]),
        ["team/alpha:1"]
    );
    assert!(names(&["dangling=true"]).is_empty());
    // until: created before a time (Docker's timestamps, or a Go duration back from now).
    let created = b
        .run(&["image", "inspect", "-f", "{{.Created}}", "team/beta:2"])
        .ok();
    assert_eq!(
        names(&[&format!("until={}", created.trim())]),
        ["team/alpha:1"]
    );
    assert_eq!(names(&["until=1h"]), Vec::<String>::new());
    assert_eq!(names(&["until=0s"]).len(), 3);
    let err = b.run(&["images", "--filter", "until=soon"]).fails();
    assert!(err.contains("\"until\"") && err.contains("soon"), "{err}");
    let err = b.run(&["images", "--filter", "before=nothing:1"]).fails();
    assert!(err.contains("No such image: nothing:1"), "{err}");
}
