//! Property tests: canonical output parses back to the same values and is a fixed point, and no
//! input, however malformed, makes the parser panic.

use acl_parser::{from_str, Block, Document, Value};
use proptest::prelude::*;

fn identifier() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_]{0,8}"
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::Int),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(Value::Float),
        any::<bool>().prop_map(Value::Bool),
        any::<String>().prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 16, 5, |inner| {
        prop::collection::vec(inner, 0..5).prop_map(Value::Array)
    })
}

fn block(depth: u32) -> BoxedStrategy<Block> {
    let fields = prop::collection::btree_map(
        identifier().prop_map(|name| format!("f_{name}")),
        value(),
        0..5,
    );
    let children = if depth == 0 {
        Just(Vec::new()).boxed()
    } else {
        prop::collection::vec(block(depth - 1), 0..3).boxed()
    };
    (
        identifier(),
        prop::option::of(any::<String>()),
        fields,
        children,
    )
        .prop_map(|(name, label, fields, children)| {
            let mut block = match label {
                Some(label) => Block::labelled(format!("B_{name}"), label),
                None => Block::new(format!("B_{name}")),
            };
            for (field, value) in fields {
                block = block.with(field, value);
            }
            // Labelled siblings must differ; unlabelled ones may repeat.
            let mut seen = std::collections::HashSet::new();
            for child in children {
                if child.label().is_none()
                    || seen.insert((child.name().to_string(), child.label().map(String::from)))
                {
                    block = block.with_block(child);
                }
            }
            block
        })
        .boxed()
}

fn document() -> impl Strategy<Value = Document> {
    (
        prop::collection::btree_map(
            identifier().prop_map(|name| format!("f_{name}")),
            value(),
            0..4,
        ),
        prop::collection::vec(block(2), 0..3),
    )
        .prop_map(|(fields, blocks)| {
            let mut document = Document::new();
            for (name, value) in fields {
                document = document.with(name, value);
            }
            let mut seen = std::collections::HashSet::new();
            for block in blocks {
                if block.label().is_none()
                    || seen.insert((block.name().to_string(), block.label().map(String::from)))
                {
                    document = document.with_block(block);
                }
            }
            document
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn canonical_text_round_trips(document in document()) {
        let text = document.to_string();
        let reread = from_str("generated.acl", &text).map_err(|error| TestCaseError::fail(format!("{error}\n{text}")))?;
        prop_assert_eq!(&reread, &document);
        prop_assert_eq!(reread.to_string(), text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = from_str("fuzz.acl", &text);
    }

    #[test]
    fn acl_like_text_never_panics(text in r#"([A-Za-z_$^.\[\]{}()"=;,+\-*/%<>!&|?:0-9 \n]|int |string |\[\]){0,80}"#) {
        let _ = from_str("fuzz.acl", &text);
    }
}
