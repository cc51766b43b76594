//! Hostile documents: expansion bombs and deep nesting are refused with ordinary positioned
//! errors instead of exhausting memory or the stack, and real documents stay well inside the
//! limits.

use std::fmt::Write;

use acl_parser::{from_str, from_str_with_limits, parse, Document, ErrorKind, Limits};

/// A document of `count` fields `a1..` each built from the one before by `step` (with `{p}`
/// standing for the previous field's name), after `a0 = first`.
fn chain(first: &str, step: &str, count: usize) -> String {
    let mut text = format!("a0 = {first};\n");
    for n in 1..=count {
        let previous = format!("a{}", n - 1);
        let _ = writeln!(text, "a{n} = {};", step.replace("{p}", &previous));
    }
    text
}

/// (line, column) of an error, which must have one.
fn position(error: &acl_parser::Error) -> (usize, usize) {
    let location = error.location().expect("limit errors are positioned");
    (location.line, location.column)
}

#[test]
fn doubling_a_string_forty_times_is_refused_at_the_first_value_over_the_limit() {
    // Unchecked, a40 alone would be 2 TiB: evaluation would run out of memory and abort.
    let text = chain("\"xx\"", "$.{p} + $.{p}", 40);
    assert!(text.len() < 1700, "{} bytes", text.len());
    let error = from_str("bomb.acl", &text).unwrap_err();
    // a19 is 2^20 bytes, exactly the default limit; a20 would be twice that.
    assert_eq!(
        error.kind(),
        &ErrorKind::ValueTooLarge {
            size: 2 << 20,
            limit: 1 << 20
        }
    );
    assert_eq!(position(&error), (21, 7));
    let message = error.to_string();
    assert!(
        message.contains("2097152 bytes") && message.contains("1048576 bytes"),
        "{message}"
    );
    assert!(message.contains("--> bomb.acl:21:7"), "{message}");
}

#[test]
fn expansion_bombs_are_refused() {
    // (what grows, document): every one of these would need gigabytes or more if evaluated.
    let cases = [
        ("string, bare names", chain("\"xx\"", "{p} + {p}", 40)),
        ("string, reverse order", {
            // Forward references: evaluating a40 first pulls in the whole chain.
            let mut lines: Vec<String> = chain("\"xx\"", "$.{p} + $.{p}", 40)
                .lines()
                .map(String::from)
                .collect();
            lines.reverse();
            lines.join("\n")
        }),
        (
            "string, joined to a number",
            chain("\"x\"", "{p} + 1 + {p}", 40),
        ),
        (
            "string, through casts",
            chain("\"xy\"", "(string){p} + (string){p}", 40),
        ),
        (
            "string, in a conditional",
            chain("\"xx\"", "true ? {p} + {p} : \"\"", 40),
        ),
        (
            "array concatenation",
            chain("{ 1, 2 }", "$.{p} + $.{p}", 40),
        ),
        (
            "array of copies",
            chain("{ 1, 2 }", "{ {p}, {p}, {p}, {p} }", 40),
        ),
        (
            "array of strings",
            chain("{ \"abcdefgh\" }", "{p} + {p} + {p}", 40),
        ),
        (
            "global references",
            chain("\"xx\"", "$a0 + $.{p} + $.{p}", 40),
        ),
        ("inside blocks", {
            let mut text = String::from("A0 { a = \"xx\"; }\n");
            for n in 1..=40 {
                let _ = writeln!(text, "A{n} {{ a = $A{p}.a + $A{p}.a; }}", p = n - 1);
            }
            text
        }),
    ];
    for (name, text) in cases {
        let error = match from_str("bomb.acl", &text) {
            Ok(_) => panic!("{name}: resolved"),
            Err(error) => error,
        };
        assert!(
            matches!(error.kind(), ErrorKind::ValueTooLarge { limit, .. } if *limit == 1 << 20),
            "{name}: {error}"
        );
        assert!(error.location().is_some(), "{name}: {error}");
    }
}

#[test]
fn copying_a_large_value_many_times_is_refused() {
    // Each copy stays under the per-value limit; together they would not.
    let big = "x".repeat(64 << 10);
    let mut text = format!("big = \"{big}\";\n");
    for n in 0..1100 {
        let _ = writeln!(text, "copy{n} = big;");
    }
    let error = from_str("copies.acl", &text).unwrap_err();
    match error.kind() {
        ErrorKind::EvaluationTooLarge { size, limit } => {
            assert_eq!(*limit, 64 << 20);
            assert!(*size > 64 << 20, "{size}");
        }
        other => panic!("{other}"),
    }
    // 1024 copies of 64 KiB fill the budget exactly; the next crosses it.
    assert_eq!(position(&error), (1026, 12));

    // Copies that are compared and thrown away count as well, or this would copy 64 KiB a
    // million times.
    let mut text = format!("big = \"{big}\";\n");
    for n in 0..1100 {
        let _ = writeln!(text, "same{n} = big == big;");
    }
    let error = from_str("compare.acl", &text).unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::EvaluationTooLarge { .. }),
        "{error}"
    );
}

#[test]
fn limits_can_be_set_by_the_caller() {
    let text = "a = \"0123456789\"; b = a + a; c = { b, b };";
    let fits = from_str_with_limits("t.acl", text, Limits::default()).unwrap();
    assert_eq!(fits.get_str("b").unwrap().len(), 20);
    let cases = [
        (
            Limits::default().with_max_value_size(19),
            ErrorKind::ValueTooLarge {
                size: 20,
                limit: 19,
            },
            (1, 23),
        ),
        (
            // `c` holds two slots of 32 bytes and two strings of 20.
            Limits::default().with_max_value_size(103),
            ErrorKind::ValueTooLarge {
                size: 104,
                limit: 103,
            },
            (1, 34),
        ),
        (
            // `b` costs 10 + 10 for its copies of `a` and 20 for `a + a`; the first copy of
            // `b` in `c` brings the total to 60.
            Limits::default().with_max_total_size(59),
            ErrorKind::EvaluationTooLarge {
                size: 60,
                limit: 59,
            },
            (1, 36),
        ),
        (
            Limits::default().with_max_nesting(0),
            ErrorKind::TooDeep(0),
            (1, 34),
        ),
        (
            Limits::default().with_max_depth(1),
            ErrorKind::TooDeep(1),
            (1, 23),
        ),
    ];
    for (limits, kind, at) in cases {
        let error = from_str_with_limits("t.acl", text, limits).unwrap_err();
        assert_eq!((error.kind(), position(&error)), (&kind, at), "{limits:?}");
    }
    // The exact limits pass.
    let exact = Limits::default()
        .with_max_value_size(104)
        .with_max_total_size(80)
        .with_max_nesting(1)
        .with_max_depth(2);
    from_str_with_limits("t.acl", text, exact).unwrap();
    let parsed = parse("t.acl", text).unwrap();
    assert!(parsed
        .resolve_with_limits(Limits::default().with_max_value_size(1))
        .is_err());
}

#[test]
fn deep_nesting_of_any_kind_is_refused_not_a_crash() {
    const DEEP: usize = 100_000;
    let cases = [
        (
            "parentheses",
            format!("x = {}1{};", "(".repeat(DEEP), ")".repeat(DEEP)),
        ),
        (
            "arrays",
            format!("x = {}{};", "{".repeat(DEEP), "}".repeat(DEEP)),
        ),
        (
            "blocks",
            format!("{}{}", "A {".repeat(DEEP), "}".repeat(DEEP)),
        ),
        (
            "labelled blocks",
            format!("{}{}", "A \"l\" {".repeat(DEEP), "}".repeat(DEEP)),
        ),
        ("negation", format!("x = {}1;", "!".repeat(DEEP))),
        ("minus", format!("x = {}1;", "- ".repeat(DEEP))),
        ("casts", format!("x = {}1;", "(int)".repeat(DEEP))),
        (
            "conditionals",
            format!("x = {}1;", "true ? 1 : ".repeat(DEEP)),
        ),
        ("operator chain", format!("x = 1{};", " + 1".repeat(DEEP))),
        (
            "mixed chain",
            format!(
                "x = 1{};",
                " * 1 - 1 == 1 || true && 1 < 2".repeat(DEEP / 10)
            ),
        ),
        (
            "array of chains",
            format!("x = {{ {}1 }};", "1 + ".repeat(DEEP)),
        ),
        ("unclosed", "(".repeat(DEEP)),
        ("unclosed in a field", format!("x = {}", "{(".repeat(DEEP))),
    ];
    for (name, text) in cases {
        let error = match from_str("deep.acl", &text) {
            Ok(_) => panic!("{name}: resolved"),
            Err(error) => error,
        };
        assert!(
            matches!(
                error.kind(),
                ErrorKind::TooDeep(_) | ErrorKind::Expected { .. }
            ),
            "{name}: {error}"
        );
        assert!(error.location().is_some(), "{name}: {error}");
    }
    // `[` opens no nesting at all: it is refused where it stands.
    for text in [
        format!("x = {};", "[".repeat(DEEP)),
        format!("int{} x = 1;", "[".repeat(DEEP)),
        format!("x = $a{};", "[".repeat(DEEP)),
    ] {
        let error = from_str("deep.acl", &text).unwrap_err();
        assert!(
            matches!(error.kind(), ErrorKind::Expected { .. }),
            "{error}"
        );
    }
}

#[test]
fn values_nested_through_references_are_refused_not_a_crash() {
    // Each field is shallow, but each wraps the one before: unchecked, a value nested 100,000
    // deep overflows the stack when it is cloned, compared, written or dropped.
    for step in ["{ {p} }", "{ $.{p} }", "{ 1, {p} } + {}"] {
        let text = chain("1", step, 100_000);
        let error = from_str("nested.acl", &text).unwrap_err();
        assert_eq!(error.kind(), &ErrorKind::TooDeep(32), "{step}: {error}");
        assert_eq!(position(&error).0, 34, "{step}: {error}");
    }
}

#[test]
fn long_reference_chains_are_refused_not_a_crash() {
    let mut text = String::new();
    for n in 0..100_000 {
        let _ = writeln!(text, "f{n} = f{};", n + 1);
    }
    text.push_str("f100000 = 1;\n");
    let error = from_str("chain.acl", &text).unwrap_err();
    assert_eq!(error.kind(), &ErrorKind::TooDeep(128), "{error}");
}

/// An index the shape and size of a large Pandora registry: 30,000 packages, over 12 MB.
fn registry_index(packages: usize) -> String {
    let mut text = String::from(
        "Registry {\n    string name = \"main\";\n    int serial = 42;\n    int expires = 1900000000;\n    int priority = 100;\n",
    );
    for package in 0..packages {
        let _ = write!(
            text,
            "    Package \"pkg{package}\" {{\n        string description = \"Package number {package}, a tool for the command line\";\n        string[] tags = {{ \"cli\", \"network\", \"text\" }};\n        string latest = \"1.2.0\";\n        string[] versions = {{ \"1.0.0\", \"1.2.0\" }};\n"
        );
        let _ = write!(
            text,
            "        Version \"1.2.0\" {{\n            string pkg_url = \"pkgs/pkg{package}/1.2.0/pkg{package}-1.2.0.psp\";\n            string sha256 = \"{:064x}\";\n            int size = {};\n            string[] dependencies = {{ \"libfoo@1.0.0\", \"libbar@2.3.4\" }};\n            string license = \"MIT\";\n            bool deprecated = false;\n        }}\n",
            package * 7,
            100_000 + package
        );
        text.push_str("    }\n");
    }
    text.push_str("}\n");
    text
}

#[test]
fn a_large_registry_index_resolves_within_the_default_limits() {
    let mut text = registry_index(30_000);
    assert!(text.len() > 12_000_000, "{} bytes", text.len());
    // Expressions and references in every package, as a hand-written index might have.
    text = text.replace(
        "string latest = \"1.2.0\";",
        "string latest = versions[1]; string home = \"https://example.org/\" + latest + \"/\";",
    );
    let document: Document = from_str("index.acl", &text).unwrap();
    let registry = document.get_block("Registry").unwrap();
    assert_eq!(registry.blocks("Package").count(), 30_000);
    assert_eq!(
        document
            .get_str("Registry.Package[\"pkg29999\"].home")
            .unwrap(),
        "https://example.org/1.2.0/"
    );
}
