//! Fixtures for Pandora's tests and demos: example ACL files in the shapes Pandora reads and
//! writes (a registry index, a package manifest, a `registries.acl`), fixture packages, and a
//! loopback HTTP server that can misbehave on demand ([`server`]).

pub mod server;

use std::path::PathBuf;

/// The directory holding the example ACL files.
pub fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(name: &str) -> acl_parser::Document {
        let path = examples_dir().join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        acl_parser::from_str(&path.display().to_string(), &text)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn index_example_resolves() {
        let index = load("index.acl");
        assert_eq!(
            index
                .get_str("Registry.Package[\"hello\"].Version[\"1.1.0\"].pkg_url")
                .unwrap(),
            "pkgs/hello/1.1.0/hello-1.1.0.psp"
        );
        assert_eq!(
            index
                .get_str("Registry.Package[\"hello\"].Version[\"1.1.0\"].license")
                .unwrap(),
            "MIT"
        );
        assert_eq!(
            index
                .get_block("Registry")
                .unwrap()
                .blocks("Package")
                .count(),
            2
        );
    }

    #[test]
    fn manifest_example_resolves() {
        let manifest = load("manifest.acl");
        assert_eq!(
            manifest.get_str("manifest.dependencies[0]").unwrap(),
            "libgreet@2.0.0"
        );
        assert_eq!(
            manifest.get_str("manifest.build_meta.builder").unwrap(),
            "mpt"
        );
    }

    #[test]
    fn server_serves_ranges_etags_and_misbehaviours() {
        use server::{get, Behavior, FixtureServer};
        let directory = std::env::temp_dir().join(format!("fixture-server-{}", std::process::id()));
        std::fs::create_dir_all(directory.join("a b")).unwrap();
        std::fs::write(directory.join("a b/file.bin"), b"0123456789").unwrap();
        let server = FixtureServer::start(&directory).unwrap();
        let url = format!("{}a%20b/file.bin", server.url());
        let (code, headers, body) = get(&url, &[]).unwrap();
        assert_eq!((code, body.as_slice()), (200, &b"0123456789"[..]));
        let tag = headers["etag"].clone();
        assert_eq!(get(&url, &[("If-None-Match", &tag)]).unwrap().0, 304);
        let (code, headers, body) = get(&url, &[("Range", "bytes=4-")]).unwrap();
        assert_eq!(
            (code, body.as_slice(), headers["content-range"].as_str()),
            (206, &b"456789"[..], "bytes 4-9/10")
        );
        server.set("/a%20b/file.bin", Behavior::FailFirst(1));
        assert_eq!(get(&url, &[]).unwrap().0, 500);
        assert_eq!(get(&url, &[]).unwrap().0, 200);
        server.set("/a%20b/file.bin", Behavior::IgnoreRange);
        assert_eq!(get(&url, &[("Range", "bytes=4-")]).unwrap().0, 200);
        server.set("/a%20b/file.bin", Behavior::WrongRangeOffset);
        assert_eq!(get(&url, &[("Range", "bytes=8-")]).unwrap().2, b"123456789");
        server.set("/a%20b/file.bin", Behavior::TruncateFirst(3));
        assert_eq!(get(&url, &[]).unwrap().2, b"012");
        server.set("/a%20b/file.bin", Behavior::NotFound);
        assert_eq!(get(&url, &[]).unwrap().0, 404);
        assert!(server
            .requests()
            .iter()
            .any(|request| request.range.as_deref() == Some("bytes=4-")));
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn registries_example_resolves() {
        let registries = load("registries.acl");
        assert_eq!(
            registries.get_int("Registry[\"local\"].priority").unwrap(),
            200
        );
    }
}
