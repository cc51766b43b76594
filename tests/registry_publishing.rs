//! `pandora registry index` writes what a web server running as another user can serve, and
//! nothing else into the directory it publishes.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::os::unix::fs::PermissionsExt;

use support::registry::fixture;

#[test]
fn the_index_is_world_readable_and_no_lock_file_is_published() {
    let fixture = fixture();
    for name in ["index.acl", "index.acl.sig"] {
        let mode = std::fs::metadata(fixture.registry.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "{name}");
    }
    let names: Vec<String> = std::fs::read_dir(&fixture.registry)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}
