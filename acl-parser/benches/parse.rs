//! Parse + resolve a generated registry index of 10,000 packages x 3 versions, the shape of
//! Pandora's `index.acl`. Target: under 50 ms.

use std::fmt::Write;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

fn index(packages: usize) -> String {
    let mut text = String::from(
        "Registry {\n    string name = \"bench\";\n    int serial = 42;\n    int expires = 1900000000;\n    int priority = 100;\n",
    );
    for package in 0..packages {
        let _ = write!(
            text,
            "    Package \"pkg{package}\" {{\n        string description = \"Package number {package}, a tool\";\n        string[] tags = {{ \"cli\", \"bench\" }};\n        string latest = \"1.2.0\";\n        string[] versions = {{ \"1.0.0\", \"1.1.0\", \"1.2.0\" }};\n"
        );
        for version in ["1.0.0", "1.1.0", "1.2.0"] {
            let _ = write!(
                text,
                "        Version \"{version}\" {{\n            string pkg_url = \"pkgs/pkg{package}/{version}/pkg{package}-{version}.psp\";\n            string sha256 = \"{:064x}\";\n            int size = {};\n            string[] dependencies = {{ \"libfoo@1.0.0\" }};\n            string license = \"MIT\";\n            bool deprecated = false;\n        }}\n",
                package * 7 + version.len(),
                100_000 + package
            );
        }
        text.push_str("    }\n");
    }
    text.push_str("}\n");
    text
}

fn bench(criterion: &mut Criterion) {
    let text = index(10_000);
    let mut group = criterion.benchmark_group("index");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(20);
    group.bench_function("parse_and_resolve_10000x3", |bencher| {
        // As Pandora does: the file's text is handed over, not copied (the copy stands in for
        // reading the file and is not timed), and freeing the result is not parsing either.
        bencher.iter_batched(
            || text.clone(),
            |owned| acl_parser::from_string("index.acl", owned).expect("generated index is valid"),
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
