//! Go's text/template semantics, case by case: each expected output is what Go 1.22+ prints
//! for the same template and data (the cases follow the kinds of test in Go's own
//! exec_test.go and parse_test.go).

use berth_gotemplate::{MissingKey, Template};
use serde_json::{json, Value};

fn data() -> Value {
    json!({
        "Name": "/web",
        "Id": "0123456789abcdef",
        "N": 3,
        "F": 1.5,
        "Big": 1000000.0,
        "Empty": "",
        "Zero": 0,
        "Nil": null,
        "True": true,
        "List": ["a", "b", "c"],
        "NoList": [],
        "Map": {"z": 26, "a": 1, "m": 13},
        "State": {"Running": true, "Status": "running", "Health": {"Status": "healthy"}},
        "NetworkSettings": {"Networks": {"net": {"IPAddress": "10.0.0.2"}, "bridge": {"IPAddress": "172.17.0.2"}}},
        "RootFS": {"Layers": ["sha256:1", "sha256:2"]},
        "Config": {"OnBuild": [">>", "<&>"], "Labels": {"com.example": "x"}},
        "ApiVersion": "1.50"
    })
}

fn run(t: &str) -> String {
    Template::parse(t)
        .unwrap_or_else(|e| panic!("{t:?}: {e}"))
        .execute(&data())
        .unwrap_or_else(|e| panic!("{t:?}: {e}"))
}

fn run_maps(t: &str) -> String {
    Template::parse(t)
        .unwrap()
        .missing_key(MissingKey::NoValue)
        .execute(&data())
        .unwrap_or_else(|e| panic!("{t:?}: {e}"))
}

fn exec_err(t: &str) -> String {
    Template::parse(t)
        .unwrap_or_else(|e| panic!("{t:?}: {e}"))
        .execute(&data())
        .expect_err(t)
        .to_string()
}

fn parse_err(t: &str) -> String {
    Template::parse(t).expect_err(t).to_string()
}

#[test]
fn fields_and_printing() {
    assert_eq!(run("{{.Name}}"), "/web");
    assert_eq!(run("{{.State.Health.Status}}"), "healthy");
    assert_eq!(run("{{.List}}"), "[a b c]");
    assert_eq!(run("{{.Map}}"), "map[a:1 m:13 z:26]");
    assert_eq!(run("{{.Nil}}"), "<nil>");
    assert_eq!(run("{{.F}} {{.Big}} {{.N}}"), "1.5 1e+06 3");
    assert_eq!(run("{{.True}}"), "true");
    assert_eq!(run("plain text"), "plain text");
    assert!(run("{{.}}").starts_with("map[ApiVersion:1.50 Big:1e+06"));
    // Go's field name for a JSON key that differs only in case.
    assert_eq!(run("{{.APIVersion}}"), "1.50");
}

#[test]
fn the_issues_formats() {
    assert_eq!(
        run("{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"),
        "172.17.0.2 10.0.0.2 ",
        "maps range in key order"
    );
    assert_eq!(
        run(r#"{{(index .NetworkSettings.Networks "net").IPAddress}}"#),
        "10.0.0.2"
    );
    assert_eq!(run("{{len .RootFS.Layers}}"), "2");
    assert_eq!(run("{{if .State.Running}}up{{else}}down{{end}}"), "up");
    assert_eq!(run("{{.Name | upper}}"), "/WEB");
    assert_eq!(run("{{$v := .Id}}{{$v}}"), "0123456789abcdef");
    assert_eq!(run("{{with .State.Health}}{{.Status}}{{end}}"), "healthy");
    assert_eq!(
        run("{{if eq .N 3}}a{{end}}{{if ne .N 2}}b{{end}}{{if lt .N 4}}c{{end}}{{if and .True (not .Zero)}}d{{end}}{{if or .Zero .Empty}}x{{else}}e{{end}}"),
        "abcde"
    );
    assert_eq!(run(r#"{{printf "%s:%d" .Name .N}}"#), "/web:3");
    assert_eq!(run("{{slice .Id 0 12}}"), "0123456789ab");
    assert_eq!(
        run("{{json .Config.OnBuild}}"),
        r#"[">>","<&>"]"#,
        "no HTML escaping"
    );
}

#[test]
fn actions_pipelines_and_variables() {
    assert_eq!(run("{{.N | printf \"%03d\"}}"), "003");
    assert_eq!(run("{{\"x\" | printf \"%s-%s\" \"a\"}}"), "a-x");
    assert_eq!(run("{{(len .List) | printf \"%d\"}}"), "3");
    assert_eq!(run("{{$}}"), run("{{.}}"));
    assert_eq!(run("{{$x := 1}}{{$x = 2}}{{$x}}"), "2");
    assert_eq!(
        run("{{$x := \"outer\"}}{{if true}}{{$x := \"inner\"}}{{$x}} {{end}}{{$x}}"),
        "inner outer"
    );
    assert_eq!(
        run("{{$x := 0}}{{range .List}}{{$x = .}}{{end}}{{$x}}"),
        "c",
        "assignment reaches the outer variable"
    );
    assert_eq!(run("{{with $s := .State}}{{$s.Status}}{{end}}"), "running");
    assert_eq!(run("{{$.N}}{{range .List}}{{$.N}}{{end}}"), "3333");
}

#[test]
fn control_structures() {
    assert_eq!(
        run("{{if .Zero}}a{{else if .Empty}}b{{else if .N}}c{{else}}d{{end}}"),
        "c"
    );
    assert_eq!(
        run("{{range $i, $e := .List}}{{$i}}={{$e}},{{end}}"),
        "0=a,1=b,2=c,"
    );
    assert_eq!(
        run("{{range $k, $v := .Map}}{{$k}}{{$v}} {{end}}"),
        "a1 m13 z26 "
    );
    assert_eq!(run("{{range .NoList}}x{{else}}empty{{end}}"), "empty");
    assert_eq!(run("{{range .Nil}}x{{else}}none{{end}}"), "none");
    assert_eq!(run("{{range 3}}{{.}}{{end}}"), "012");
    assert_eq!(
        run("{{range .List}}{{if eq . \"b\"}}{{continue}}{{end}}{{if eq . \"c\"}}{{break}}{{end}}{{.}}{{end}}"),
        "a"
    );
    assert_eq!(run("{{with .Empty}}x{{else}}y{{end}}"), "y");
    assert_eq!(run("{{with .Zero}}x{{else with .N}}{{.}}{{end}}"), "3");
    assert_eq!(
        run(r#"{{define "T"}}<{{.}}>{{end}}{{template "T" .N}}{{template "T" "s"}}"#),
        "<3><s>"
    );
    assert_eq!(run(r#"{{block "B" .Name}}[{{.}}]{{end}}"#), "[/web]");
}

#[test]
fn whitespace_trimming_and_comments() {
    assert_eq!(run("a  {{- .N -}}  b"), "a3b");
    assert_eq!(run("a {{.N}} b"), "a 3 b");
    assert_eq!(run("a{{/* a comment */}}b"), "ab");
    assert_eq!(run("a  {{- /* trimmed */ -}}  b"), "ab");
    assert_eq!(run("{{- .N}}\n"), "3\n");
    assert_eq!(
        run("x\n{{- range .List}}\n  {{.}}\n{{- end}}"),
        "x\n  a\n  b\n  c"
    );
}

#[test]
fn go_functions() {
    assert_eq!(run("{{index .List 1}}"), "b");
    assert_eq!(run(r#"{{index .Map "m"}}"#), "13");
    assert_eq!(run(r#"{{index .Map "nope"}}"#), "<no value>");
    assert_eq!(run("{{slice .List 1}}"), "[b c]");
    assert_eq!(run("{{slice .List 1 2}}"), "[b]");
    assert_eq!(run("{{len .Map}} {{len .Name}}"), "3 4");
    assert_eq!(run("{{print 1 2 \"a\" 3}}"), "1 2a3");
    assert_eq!(run("{{println .N .Name}}"), "3 /web\n");
    assert_eq!(run("{{not .Empty}}"), "true");
    assert_eq!(run("{{and 1 0 2}} {{or 0 \"\" 5}} {{and 1 2}}"), "0 5 2");
    assert_eq!(run("{{eq .N 1 2 3}}"), "true");
    assert_eq!(
        run("{{lt \"a\" \"b\"}} {{ge 2.5 2}} {{le 3 3}} {{gt 1 2}}"),
        "true true true false"
    );
    assert_eq!(
        run(r#"{{html "<a href='x'>&"}}"#),
        "&lt;a href=&#39;x&#39;&gt;&amp;"
    );
    assert_eq!(run(r#"{{urlquery "a b&c"}}"#), "a+b%26c");
    assert_eq!(run(r#"{{js "it's <b>"}}"#), r"it\'s \u003Cb\u003E");
}

#[test]
fn printf_verbs() {
    assert_eq!(
        run(r#"{{printf "%v|%5s|%-5s|%q" .List "ab" "cd" "x\ny"}}"#),
        "[a b c]|   ab|cd   |\"x\\ny\""
    );
    assert_eq!(
        run(r#"{{printf "%x %X %o %b %c" 255 255 8 5 65}}"#),
        "ff FF 10 101 A"
    );
    assert_eq!(
        run(r#"{{printf "%.2f %e %g %t" 3.14159 1234.5 0.5 true}}"#),
        "3.14 1.234500e+03 0.5 true"
    );
    assert_eq!(run(r#"{{printf "%+d %05d %%" 3 -42}}"#), "+3 -0042 %");
    assert_eq!(run(r#"{{printf "%d" "x"}}"#), "%!d(string=x)");
    assert_eq!(run(r#"{{printf "%s %s" "a"}}"#), "a %!s(MISSING)");
    assert_eq!(run(r#"{{printf "%s" "a" 1}}"#), "a%!(EXTRA int=1)");
}

#[test]
fn dockers_functions() {
    assert_eq!(run(r#"{{join .List ", "}}"#), "a, b, c");
    assert_eq!(run(r#"{{split "a:b:c" ":"}}"#), "[a b c]");
    assert_eq!(
        run(r#"{{lower "ABC"}} {{upper "abc"}} {{title "hello big world"}}"#),
        "abc ABC Hello Big World"
    );
    assert_eq!(run("{{truncate .Id 4}}"), "0123");
    assert_eq!(run(r#"[{{pad "x" 2 1}}]"#), "[  x ]");
    assert_eq!(run("{{json .State.Health}}"), r#"{"Status":"healthy"}"#);
    assert_eq!(run("{{json .Nil}}"), "null");
}

#[test]
fn missing_keys_as_structs_or_maps() {
    let e = exec_err("{{.Nope}}");
    assert!(e.contains("can't evaluate field Nope"), "{e}");
    assert_eq!(run_maps("{{.Nope}}"), "<no value>");
    assert_eq!(run_maps("{{.Config.Labels.missing}}"), "<no value>");
    assert_eq!(run_maps("{{.Nope.Deeper}}"), "<no value>");
    assert_eq!(run_maps("{{.Config.Labels.com}}"), "<no value>");
}

#[test]
fn errors_are_gos() {
    assert_eq!(
        parse_err("{{nosuch .X}}"),
        "template: :1: function \"nosuch\" not defined"
    );
    assert!(parse_err("{{.Name").contains("unclosed action"));
    assert!(parse_err("{{if .N}}x").contains("unexpected EOF"));
    assert!(parse_err("{{end}}").contains("unexpected {{end}}"));
    assert!(parse_err("{{$undefined}}").contains("undefined variable \"$undefined\""));
    assert!(parse_err("{{break}}").contains("outside {{range}}"));
    assert!(parse_err("x\n{{.A .B}}{{}}").starts_with("template: :2:"));
    let e = exec_err("{{index .List 9}}");
    assert!(e.contains("index out of range: 9"), "{e}");
    let e = exec_err("{{.Name.Deeper}}");
    assert!(
        e.contains("can't evaluate field Deeper in type string"),
        "{e}"
    );
    let e = exec_err("{{range .N.X}}{{end}}");
    assert!(e.contains("can't evaluate field X"), "{e}");
    let e = exec_err("{{range .Name}}{{end}}");
    assert!(e.contains("range can't iterate over /web"), "{e}");
    let e = exec_err("{{.Name 1}}");
    assert!(e.contains("can't give argument to non-function"), "{e}");
    let e = exec_err("{{lt .List 1}}");
    assert!(e.contains("error calling lt"), "{e}");
}

/// Docker's nil slices and maps (JSON `null` at fields the caller marks): Go prints `[]` and
/// `map[]`, a nil pointer `<nil>`; `json` gives `null`; they are empty and false.
#[test]
fn typed_nils_print_as_go_prints_docker_fields() {
    use berth_gotemplate::{mark_typed_nils, NilKind};
    let mut v = json!({
        "Config": {"Entrypoint": null, "Volumes": null, "Env": ["A=1"], "Healthcheck": null},
        "NetworkSettings": {"Networks": {"bridge": {"Aliases": null}}}
    });
    mark_typed_nils(
        &mut v,
        &[
            ("Config.Entrypoint", NilKind::Slice),
            ("Config.Volumes", NilKind::Map),
            ("Config.Env", NilKind::Slice),
            ("NetworkSettings.Networks.*.Aliases", NilKind::Slice),
            ("Config.Missing", NilKind::Map),
        ],
    );
    let run = |t: &str| {
        Template::parse(t)
            .unwrap()
            .missing_key(MissingKey::NoValue)
            .execute(&v)
            .unwrap_or_else(|e| panic!("{t:?}: {e}"))
    };
    assert_eq!(
        run("{{.Config.Entrypoint}} {{.Config.Volumes}} {{.Config.Healthcheck}}"),
        "[] map[] <nil>"
    );
    assert_eq!(run("{{.Config.Env}}"), "[A=1]", "only nulls are marked");
    assert_eq!(
        run("{{json .Config.Entrypoint}} {{json .Config}}"),
        r#"null {"Entrypoint":null,"Volumes":null,"Env":["A=1"],"Healthcheck":null}"#
    );
    assert_eq!(run("{{len .Config.Entrypoint}}{{if .Config.Volumes}}x{{else}}-{{end}}{{range .Config.Entrypoint}}y{{end}}"), "0-");
    assert_eq!(
        run("{{range .NetworkSettings.Networks}}{{.Aliases}}{{end}}"),
        "[]"
    );
    assert_eq!(
        run("{{.Config}}"),
        "map[Entrypoint:[] Env:[A=1] Healthcheck:<nil> Volumes:map[]]"
    );
    assert_eq!(run("{{index .Config.Volumes \"/data\"}}"), "<no value>");
    assert_eq!(run("{{.Config.Volumes.x}}"), "<no value>");
}

/// `index` of a key a map lacks gives the zero value of the map's element type where the
/// caller says which (Docker's `Labels` is a `map[string]string`: `""`; its `Networks` a map
/// of pointers: `<nil>`), as Go's does; a field of the same name reached as `.Labels.x`
/// stays `<no value>` (Go's missing map key), and untyped maps keep `<no value>`.
#[test]
fn index_of_a_missing_key_gives_the_element_types_zero_value() {
    use berth_gotemplate::{mark_typed_nils, Elem, NilKind};
    let mut v = json!({
        "Config": {"Labels": {"a": "b"}, "Volumes": {"/v": {}}},
        "Labels": null,
        "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"}}},
        "Other": {"k": "v"}
    });
    mark_typed_nils(&mut v, &[("Labels", NilKind::Map)]);
    let run = |t: &str| {
        Template::parse(t)
            .unwrap()
            .missing_key(MissingKey::NoValue)
            .typed_maps(&[("Labels", Elem::String), ("Networks", Elem::Pointer)])
            .execute(&v)
            .unwrap_or_else(|e| panic!("{t:?}: {e}"))
    };
    assert_eq!(run(r#"[{{index .Config.Labels "zz"}}]"#), "[]");
    assert_eq!(run(r#"{{index .Config.Labels "a"}}"#), "b");
    assert_eq!(
        run(r#"{{printf "%q" (index .Config.Labels "zz")}}"#),
        r#""""#
    );
    assert_eq!(run(r#"{{eq (index .Config.Labels "zz") ""}}"#), "true");
    assert_eq!(run(r#"{{len (index .Config.Labels "zz")}}"#), "0");
    assert_eq!(
        run(r#"{{if index .Config.Labels "zz"}}y{{else}}n{{end}}"#),
        "n"
    );
    // A nil map of strings too.
    assert_eq!(
        run(r#"[{{index .Labels "zz"}}] {{.Labels}} {{len .Labels}}"#),
        "[] map[] 0"
    );
    assert_eq!(
        run(r#"{{index .NetworkSettings.Networks "none"}}"#),
        "<nil>"
    );
    assert_eq!(
        run(r#"{{(index .NetworkSettings.Networks "bridge").IPAddress}}"#),
        "172.17.0.2"
    );
    // The typed map is still the map everywhere else.
    assert_eq!(
        run("{{.Config.Labels}} {{json .Config.Labels}}"),
        r#"map[a:b] {"a":"b"}"#
    );
    assert_eq!(
        run("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}{{end}}"),
        "a=b"
    );
    assert_eq!(run("{{.Config.Labels.zz}}"), "<no value>");
    assert_eq!(run(r#"{{index .Other "zz"}}"#), "<no value>");
    assert_eq!(run(r#"{{index .Config.Volumes "/x"}}"#), "<no value>");
}
