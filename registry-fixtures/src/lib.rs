//! Fixtures for Pandora's tests and demos: example ACL files in the shapes Pandora reads and
//! writes (a registry index, a package manifest, a `registries.acl`).

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
    fn registries_example_resolves() {
        let registries = load("registries.acl");
        assert_eq!(
            registries.get_int("Registry[\"local\"].priority").unwrap(),
            200
        );
    }
}
