//! Table-driven tests: every construct of the language, and every error with its position.

use acl_parser::{from_str, Document, ErrorKind, Value};

fn resolve(text: &str) -> Document {
    from_str("t.acl", text).unwrap_or_else(|error| panic!("{text}\n{error}"))
}

fn value(text: &str, path: &str) -> Value {
    resolve(text)
        .get(path)
        .unwrap_or_else(|error| panic!("{text}\n{error}"))
        .clone()
}

#[test]
fn constructs() {
    let cases: &[(&str, &str, Value)] = &[
        // comments, literals, typed and inferred fields
        ("// c\nint x = 1; /* b\n */", "x", Value::Int(1)),
        ("int x = -9223372036854775808;", "x", Value::Int(i64::MIN)),
        ("int x = +5;", "x", Value::Int(5)),
        ("float x = 1.5e2;", "x", Value::Float(150.0)),
        ("float x = 2;", "x", Value::Float(2.0)),
        ("bool x = true;", "x", Value::Bool(true)),
        ("string x = \"a\\tb\";", "x", Value::from("a\tb")),
        ("x = \"inferred\";", "x", Value::from("inferred")),
        ("x = false;", "x", Value::Bool(false)),
        ("x = 2.0;", "x", Value::Float(2.0)),
        // arrays
        ("string[] x = { \"a\", \"b\", };", "x[1]", Value::from("b")),
        ("int[] x = {};", "x", Value::Array(vec![])),
        ("float[] x = { 1, 2.5 };", "x", Value::from(vec![1.0, 2.5])),
        ("x = { 1, \"two\", { 3 } };", "x[2][0]", Value::Int(3)),
        // blocks: nested, labelled, repeated, untyped nested
        ("A { B { int y = 2; } }", "A.B.y", Value::Int(2)),
        ("A \"one\" { v = 1; } A \"two\" { v = 2; }", "A[\"two\"].v", Value::Int(2)),
        ("A { v = 1; } A { v = 2; }", "A[1].v", Value::Int(2)),
        ("manifest { build_meta { builder = \"mpt\"; commit = \"abc\"; } }", "manifest.build_meta.builder", Value::from("mpt")),
        // references: global, labelled, local, parent, grandparent, into arrays, forward
        ("A { int p = 8; } B { q = $A.p; }", "B.q", Value::Int(8)),
        ("Network { interface \"eth0\" { gateway = \"10.0.0.1\"; } } g = $Network.interface[\"eth0\"].gateway;", "g", Value::from("10.0.0.1")),
        ("A { a = 1; b = $.a + 1; }", "A.b", Value::Int(2)),
        ("top = 3; A { b = ^top * 2; }", "A.b", Value::Int(6)),
        ("top = 3; A { B { c = ^^top; } }", "A.B.c", Value::Int(3)),
        ("A { x = 1; B { c = ^x; } }", "A.B.c", Value::Int(1)),
        ("later = $A.v[1]; A { v = { 1, 2 }; }", "later", Value::Int(2)),
        ("A { v = 1; } r = $A[0].v;", "r", Value::Int(1)),
        ("A { int v = 4; } ref r = $A.v;", "r", Value::Int(4)),
        ("a = 1; b = 2; ref[] r = { $a, $b };", "r", Value::from(vec![1i64, 2])),
        // precedence and associativity
        ("x = 1 + 2 * 3;", "x", Value::Int(7)),
        ("x = (1 + 2) * 3;", "x", Value::Int(9)),
        ("x = 10 - 4 - 3;", "x", Value::Int(3)),
        ("x = 7 % 4 * 2;", "x", Value::Int(6)),
        ("x = 1 < 2 == true;", "x", Value::Bool(true)),
        ("x = true || false && false;", "x", Value::Bool(true)),
        ("x = !true || true;", "x", Value::Bool(true)),
        ("x = -2 * -3;", "x", Value::Int(6)),
        ("x = - -2;", "x", Value::Int(2)),
        ("x = true ? 1 : false ? 2 : 3;", "x", Value::Int(1)),
        ("x = false ? 1 : false ? 2 : 3;", "x", Value::Int(3)),
        ("x = 1 > 2 ? \"a\" : \"b\";", "x", Value::from("b")),
        // strings and conversions
        ("x = \"v\" + 1 + 2;", "x", Value::from("v12")),
        ("x = 1 + 2 + \"v\";", "x", Value::from("3v")),
        ("x = \"a\" < \"b\";", "x", Value::Bool(true)),
        ("x = \"a\" + 1.5;", "x", Value::from("a1.5")),
        // casts
        ("int x = (int)\"42\";", "x", Value::Int(42)),
        ("x = (int)3.9;", "x", Value::Int(3)),
        ("x = (float)1 / 4;", "x", Value::Float(0.25)),
        ("x = (string)12 + \"!\";", "x", Value::from("12!")),
        ("x = (bool)\"true\";", "x", Value::Bool(true)),
        ("x = (bool)0;", "x", Value::Bool(false)),
        ("x = (int)(1.5 + 1.5);", "x", Value::Int(3)),
        // short circuit skips what would fail
        ("x = false && 1 / 0 == 1;", "x", Value::Bool(false)),
        ("x = true || $missing;", "x", Value::Bool(true)),
        ("d = 0; x = $d != 0 ? 10 / $d : 0;", "x", Value::Int(0)),
        // a field may share a type keyword's name
        ("string string = \"s\"; int = 1;", "string", Value::from("s")),
        // bare names: the nearest field of that name, in this block and then outward
        ("name = \"Ann\"; string welcome = \"Hi \" + name;", "welcome", Value::from("Hi Ann")),
        ("System { bool debug = true; } int port = 8080; bool ok = ($System.debug && (port > 1024));", "ok", Value::Bool(true)),
        ("A { a = 1; b = a + 1; }", "A.b", Value::Int(2)),
        ("top = 3; A { B { c = top * 2; } }", "A.B.c", Value::Int(6)),
        ("x = 1; A { x = 2; y = x; }", "A.y", Value::Int(2)),
        ("port = 80; A { port = 8080; B { p = port; } }", "A.B.p", Value::Int(8080)),
        ("port = 80; A { B { port = 1; } p = port; }", "A.p", Value::Int(80)),
        ("b = a + 1; a = 2;", "b", Value::Int(3)),
        ("A { y = x * 2; } x = 21;", "A.y", Value::Int(42)),
        ("v = { 1, 2 }; x = v[1];", "x", Value::Int(2)),
        ("a = 1; b = { a, a + 1, -a };", "b", Value::from(vec![1i64, 2, -1])),
        ("a = 4; ref r = a;", "r", Value::Int(4)),
        ("a = 4; ref[] r = { a, a };", "r", Value::from(vec![4i64, 4])),
        ("d = 0; x = d != 0 ? 10 / d : 0;", "x", Value::Int(0)),
        ("ok = true; x = ok || missing;", "x", Value::Bool(true)),
        ("a = 1; x = (string)a + \"!\";", "x", Value::from("1!")),
        ("A { a = 1; x = a == $.a && a == $A.a; }", "A.x", Value::Bool(true)),
        // true and false are values even where a field has that name
        ("true = 5; x = true;", "x", Value::Bool(true)),
        ("false = 5; x = !false;", "x", Value::Bool(true)),
        ("null = 5; x = $.null;", "x", Value::Int(5)),
        ("int = 5; x = $.int + 1;", "x", Value::Int(6)),
    ];
    for (text, path, expected) in cases {
        assert_eq!(&value(text, path), expected, "{text}");
    }
}

/// (input, expected message, line, column, caret width)
#[test]
fn errors() {
    let cases: &[(&str, &str, usize, usize)] = &[
        ("x = 1", "expected `;` after the value, found end of file", 1, 6),
        ("int x = 1\nint y = 2;", "expected `;` after the value, found identifier `int`", 1, 10),
        ("A {\n x = 1;\n", "expected `}`, found end of file", 3, 1),
        ("A }", "expected `=`, `{` or a label after `A`, found `}`", 1, 3),
        ("}", "expected a field or a block, found `}`", 1, 1),
        ("x = ;", "expected a value, found `;`", 1, 5),
        ("x = y;", "unknown name `y`: there is no field `y` in the top level", 1, 5),
        ("A {\n  x = 1 + nope;\n}", "unknown name `nope`: there is no field `nope` in `A` or the top level", 2, 11),
        ("A \"l\" { B { x = nope; } }", "unknown name `nope`: there is no field `nope` in `B`, `A \"l\"` or the top level", 1, 17),
        ("A { B { v = 1; } x = B; }", "unknown name `B`: there is no field `B` in `A` or the top level", 1, 22),
        ("A { B { v = 1; } x = B.v; }", "unknown name `B`: there is no field `B` in `A` or the top level", 1, 22),
        ("v = 1; x = v.a;", "reference `v.a` does not resolve: int 1 is a value, not a block with a `a`", 1, 12),
        ("v = {1}; x = v[1];", "reference `v[1]` does not resolve: index 1 is out of range for an array of 1 items", 1, 14),
        ("x = null;", "expected a value, found identifier `null`", 1, 5),
        ("int = 1; x = int;", "expected a value, found identifier `int`", 1, 14),
        ("ref = 1; x = ref + 1;", "expected a value, found identifier `ref`", 1, 14),
        ("a = b;\nb = a;", "reference cycle: a -> b -> a", 2, 5),
        ("A { x = x; }", "reference cycle: A.x -> A.x", 1, 9),
        ("x = 1; A { x = x + 1; }", "reference cycle: A.x -> A.x", 1, 16),
        ("x = (1 + 2;", "expected `)`, found `;`", 1, 11),
        ("x = { 1 2 };", "expected `,` or `}` in the array, found number `2`", 1, 9),
        ("x = $a.;", "expected a name, found `;`", 1, 8),
        ("x = $a[x];", "expected a label string or an index inside `[ ]`, found identifier `x`", 1, 8),
        ("x = true ? 1 2;", "expected `:` in `condition ? a : b`, found number `2`", 1, 14),
        ("integer x = 1;", "expected a type, found `integer`", 1, 1),
        ("int[ x = 1;", "expected `]`, found identifier `x`", 1, 6),
        ("x = 9223372036854775808;", "invalid number literal `9223372036854775808`", 1, 5),
        ("x = \"abc;", "unterminated string literal", 1, 5),
        ("x = 1; /*", "unterminated block comment", 1, 8),
        ("x = 'a';", "unexpected character `'`", 1, 5),
        ("x = \"\\z\";", "invalid escape sequence `\\z`", 1, 6),
        // types
        ("string m = 42;", "`m` is declared `string` but its value is int 42", 1, 12),
        ("int n = \"x\";", "`n` is declared `int` but its value is string \"x\"", 1, 9),
        ("int n = 1.5;", "`n` is declared `int` but its value is float 1.5", 1, 9),
        ("bool b = 1;", "`b` is declared `bool` but its value is int 1", 1, 10),
        ("int[] a = { 1, \"x\" };", "`a` is declared `int[]` but its value is string \"x\"", 1, 11),
        ("int[] a = 1;", "`a` is declared `int[]` but its value is int 1", 1, 11),
        ("int a = { 1 };", "`a` is declared `int` but its value is array { 1 }", 1, 9),
        ("a = 1; ref r = 1 + $a;", "`r` is declared `ref` but its value is not a reference", 1, 16),
        // duplicates and clashes
        ("x = 1;\nx = 2;", "field `x` is defined more than once in this block", 2, 1),
        ("A \"l\" {}\nA \"l\" {}", "block `A \"l\"` is defined more than once", 2, 1),
        ("A {}\nA = 1;", "`A` names both a field and a block in this scope", 2, 1),
        // references
        ("x = $nope;", "reference `$nope` does not resolve: the top level has no field or block `nope`", 1, 5),
        ("A { } x = $A.b;", "reference `$A.b` does not resolve: `A` has no field or block `b`", 1, 11),
        ("A {} A {} x = $A.b;", "reference `$A.b` does not resolve: there are 2 `A` blocks; pick one with [\"label\"] or [index]", 1, 15),
        ("A \"a\" {} x = $A[\"b\"].c;", "reference `$A[\"b\"].c` does not resolve: no `A` block is labelled \"b\"", 1, 14),
        ("A {} x = $A[3].c;", "reference `$A[3].c` does not resolve: index 3 is out of range: there are 1 `A` blocks", 1, 10),
        ("v = {1}; x = $v[1];", "reference `$v[1]` does not resolve: index 1 is out of range for an array of 1 items", 1, 14),
        ("v = 1; x = $v.a;", "reference `$v.a` does not resolve: int 1 is a value, not a block with a `a`", 1, 12),
        ("A {} x = $A;", "reference `$A` does not resolve: it names a block, not a value", 1, 10),
        ("x = ^y;", "reference `^y` does not resolve: `^` goes above the top level", 1, 5),
        ("A { x = $.y; }", "reference `$.y` does not resolve: `A` has no field or block `y`", 1, 9),
        ("a = $b;\nb = $a;", "reference cycle: a -> b -> a", 2, 5),
        ("A { x = $.x; }", "reference cycle: A.x -> A.x", 1, 9),
        // arithmetic
        ("x = 1 / 0;", "division by zero", 1, 5),
        ("x = 1 % 0;", "division by zero", 1, 5),
        ("x = 1.0 / 0;", "division by zero", 1, 5),
        ("x = 9223372036854775807 + 1;", "integer overflow: 9223372036854775807 + 1", 1, 5),
        ("x = -(-9223372036854775808);", "integer overflow: -(-9223372036854775808)", 1, 5),
        ("x = 1 - \"a\";", "operator `-` cannot be applied to int 1 and string \"a\"", 1, 5),
        ("x = !1;", "operator `!` cannot be applied to int 1", 1, 5),
        ("x = 1 ? 2 : 3;", "operator `?:` cannot be applied to int 1", 1, 5),
        ("x = (int)\"x\";", "cannot cast string \"x\" to int", 1, 5),
        ("x = (bool)\"yes\";", "cannot cast string \"yes\" to bool", 1, 5),
        ("x = (string){1};", "cannot cast array { 1 } to string", 1, 5),
    ];
    for (text, message, line, column) in cases {
        let error = match from_str("t.acl", text) {
            Ok(document) => panic!("{text:?} should fail, resolved to:\n{document}"),
            Err(error) => error,
        };
        assert_eq!(error.kind().to_string(), *message, "{text:?}");
        let location = error
            .location()
            .unwrap_or_else(|| panic!("{text:?} has no location"));
        assert_eq!(
            (location.line, location.column),
            (*line, *column),
            "{text:?}: {error}"
        );
        assert_eq!(location.file, "t.acl");
    }
}

#[test]
fn error_rendering_shows_line_caret_and_hint() {
    let error = from_str(
        "registries.acl",
        "Registry \"main\" {\n    int priority = \"high\";\n}\n",
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "`priority` is declared `int` but its value is string \"high\"\n --> registries.acl:2:20\n  |\n2 |     int priority = \"high\";\n  |                    ^^^^^^\nhint: cast it with `(int)` or change the declared type"
    );
}

#[test]
fn deep_nesting_is_refused_not_a_crash() {
    let deep_expression = format!("x = {}1{};", "(".repeat(10_000), ")".repeat(10_000));
    let deep_blocks = format!("{}{}", "A {".repeat(10_000), "}".repeat(10_000));
    let deep_unary = format!("x = {}1;", "!".repeat(10_000));
    let deep_arrays = format!("x = {}{};", "{".repeat(10_000), "}".repeat(10_000));
    for text in [deep_expression, deep_blocks, deep_unary, deep_arrays] {
        let error = from_str("t.acl", &text).unwrap_err();
        assert!(matches!(error.kind(), ErrorKind::TooDeep(_)), "{error}");
    }
    let chain: String = (0..1000)
        .map(|n| format!("f{n} = $f{};\n", n + 1))
        .collect::<String>()
        + "f1000 = 1;";
    let error = from_str("t.acl", &chain).unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::TooDeep(_)), "{error}");
}

#[test]
fn pandora_registry_index_and_manifest_shapes() {
    let text = r#"
Registry {
    string url = "https://example.org/pandora/index.acl";
    int priority = 100;
    bool require_signatures = false;
    Package "mytool" {
        string[] versions = { "1.0.0" };
        string latest = "1.0.0";
        Version "1.0.0" {
            string pkg_url = "pkgs/mytool/1.0.0/mytool-1.0.0.psp";
            string sha256 = "8c2e...";
            bool deprecated = false;
        }
    }
}
manifest {
    string name = "mytool";
    string version = "3.0.0";
    string[] dependencies = { "libfoo@1.0.0" };
    build_meta { builder = "mpt"; commit = "abcdef0"; }
}
"#;
    let document = resolve(text);
    assert_eq!(
        document
            .get_str("Registry.Package[\"mytool\"].Version[\"1.0.0\"].pkg_url")
            .unwrap(),
        "pkgs/mytool/1.0.0/mytool-1.0.0.psp"
    );
    assert_eq!(document.get_int("Registry.priority").unwrap(), 100);
    assert!(!document.get_bool("Registry.require_signatures").unwrap());
    assert_eq!(
        document.get_str("manifest.dependencies[0]").unwrap(),
        "libfoo@1.0.0"
    );
    assert_eq!(
        document.get_str("manifest.build_meta.commit").unwrap(),
        "abcdef0"
    );
    let packages: Vec<_> = document
        .get_block("Registry")
        .unwrap()
        .blocks("Package")
        .map(|b| b.label())
        .collect();
    assert_eq!(packages, [Some("mytool")]);
    // Canonical output parses back to the same values, and is stable.
    let written = document.to_string();
    let reread = resolve(&written);
    assert_eq!(reread, document);
    assert_eq!(reread.to_string(), written);
}

#[test]
fn eval_replaces_references_and_expressions() {
    let document = resolve("A { int p = 2 * 4; } B { q = $A.p; ref r = $A.p; s = \"v\" + $.q; }");
    assert_eq!(
        document.to_string(),
        "A {\n    int p = 8;\n}\n\nB {\n    int q = 8;\n    int r = 8;\n    string s = \"v8\";\n}\n"
    );
}

#[test]
fn spans_are_kept() {
    let document = resolve("A \"x\" {\n  int port = 80;\n}\n");
    let block = document.get_block("A").unwrap();
    let field = block.field("port").unwrap();
    let error = document.error_at(field.span(), "port 80 needs root");
    let location = error.location().unwrap();
    assert_eq!((location.line, location.column), (2, 3));
    assert_eq!(
        document
            .source()
            .unwrap()
            .slice(block.span().unwrap())
            .lines()
            .next(),
        Some("A \"x\" {")
    );
}

#[test]
fn deep_expressions_in_a_long_reference_chain_are_refused_not_a_crash() {
    let nested = format!("{}true", "!".repeat(60));
    let chain: String = (0..100)
        .map(|n| format!("f{n} = $f{} && {nested};\n", n + 1))
        .collect::<String>()
        + "f100 = true;";
    let error = from_str("t.acl", &chain).unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::TooDeep(_)), "{error}");
}

#[test]
fn bare_name_errors_say_how_to_reach_other_fields() {
    let cases = [
        (
            "x = 1; A { x = x + 1; }",
            "a `x` in the block around it is written `^x`",
        ),
        (
            "A { B { v = 1; } x = B; }",
            "`B` is a block: name a field inside it",
        ),
        ("x = nope;", "text needs double quotes: \"nope\""),
        ("x = null;", "ACL has no null"),
        ("x = string;", "a cast is written `(string)value`"),
    ];
    for (text, hint) in cases {
        let error = from_str("t.acl", text).unwrap_err();
        assert!(
            error.hint().is_some_and(|shown| shown.contains(hint)),
            "{text:?}: {error}"
        );
    }
}

#[test]
fn spec_examples_with_bare_names() {
    let document = resolve(
        r#"
System {
    string name = "Atlas";
    bool debug = true;
}
Server {
    string name = "web";
    int port = 8080;
    int max_procs = (int)(1.5 * 256);
    string welcome = "Hi " + name;
    bool ok = ($System.debug && (port > 1024));
}
"#,
    );
    assert_eq!(document.get_str("Server.welcome").unwrap(), "Hi web");
    assert!(document.get_bool("Server.ok").unwrap());
    assert_eq!(document.get_int("Server.max_procs").unwrap(), 384);
    // Resolved documents are literals: bare names are gone from the canonical text.
    assert_eq!(resolve(&document.to_string()), document);
}
