//! Package identities: [`PackageName`], [`Version`] and [`PackageId`] (`name@version`), each
//! with one parsing rule and one spelling, used by every layer.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// Why a name, version or `name@version` was refused; the message says what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IdError(String);

/// A package name: lowercase letters, digits and `.`, `_`, `+`, `-`, starting with a letter or
/// digit, at most 64 characters (so it is always a safe single path component).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackageName(String);

/// Checks a package name (see [`PackageName`]).
pub fn validate_name(name: &str) -> Result<(), String> {
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !first_ok || name.len() > 64 {
        return Err(format!(
            "`{name}` must start with a lowercase letter or digit and be at most 64 characters"
        ));
    }
    match name.chars().find(|c| {
        !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '+' | '-'))
    }) {
        Some(bad) => Err(format!(
            "`{name}` contains `{bad}`; names use lowercase letters, digits, `.`, `_`, `+` and `-`"
        )),
        None => Ok(()),
    }
}

/// Checks an exact version (see [`Version`]).
pub fn validate_version(version: &str) -> Result<(), String> {
    let (core, suffix) = match version.find(['-', '+']) {
        Some(split) => (&version[..split], Some(&version[split + 1..])),
        None => (version, None),
    };
    let core_ok = !core.is_empty()
        && core
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    let suffix_ok = suffix.is_none_or(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+'))
    });
    if core_ok && suffix_ok && version.len() <= 64 {
        Ok(())
    } else {
        Err(format!(
            "`{version}` is not an exact version such as `1.2.3` or `2.0.0-rc.1`"
        ))
    }
}

/// Checks an exact pin `name@version`.
pub fn validate_pin(pin: &str) -> Result<(), String> {
    pin.parse::<PackageId>()
        .map(|_| ())
        .map_err(|error| error.0)
}

impl PackageName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for PackageName {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, IdError> {
        validate_name(text).map_err(IdError)?;
        Ok(PackageName(text.to_string()))
    }
}

/// An exact version: dot-separated numbers, optionally followed by `-prerelease` or `+build`
/// made of letters, digits, `.` and `-`; at most 64 characters. Ranges (`^1.0`, `>=2`, `1.*`)
/// are not versions. Ordered by [`compare_versions`]; equality is textual.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Version(String);

impl Version {
    /// The version as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Version {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, IdError> {
        validate_version(text).map_err(IdError)?;
        Ok(Version(text.to_string()))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_versions(&self.0, &other.0).then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The one version order: numeric parts numerically (missing parts count as 0), a
/// pre-release (`-rc.1`) before its release and ordered part by part, build metadata (`+...`)
/// ignored.
pub fn compare_versions(left: &str, right: &str) -> Ordering {
    fn split(version: &str) -> (Vec<&str>, Option<&str>) {
        let version = version.split('+').next().unwrap_or(version);
        match version.split_once('-') {
            Some((core, pre)) => (core.split('.').collect(), Some(pre)),
            None => (version.split('.').collect(), None),
        }
    }
    fn part(left: &str, right: &str) -> Ordering {
        match (left.parse::<u64>(), right.parse::<u64>()) {
            (Ok(a), Ok(b)) => a.cmp(&b),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(_), Err(_)) => left.cmp(right),
        }
    }
    let ((left_core, left_pre), (right_core, right_pre)) = (split(left), split(right));
    for index in 0..left_core.len().max(right_core.len()) {
        let order = part(
            left_core.get(index).unwrap_or(&"0"),
            right_core.get(index).unwrap_or(&"0"),
        );
        if order != Ordering::Equal {
            return order;
        }
    }
    match (left_pre, right_pre) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(left), Some(right)) => {
            let (left, right): (Vec<&str>, Vec<&str>) =
                (left.split('.').collect(), right.split('.').collect());
            for index in 0..left.len().max(right.len()) {
                let order = match (left.get(index), right.get(index)) {
                    (Some(a), Some(b)) => part(a, b),
                    (Some(_), None) => Ordering::Greater,
                    (None, Some(_)) => Ordering::Less,
                    (None, None) => Ordering::Equal,
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
            Ordering::Equal
        }
    }
}

/// One package version: `name@version`, the spelling used in the store, lockfiles, records and
/// every message.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackageId {
    /// The name.
    pub name: PackageName,
    /// The exact version.
    pub version: Version,
}

impl PackageId {
    /// `name@version` from parts already validated.
    pub fn new(name: PackageName, version: Version) -> PackageId {
        PackageId { name, version }
    }

    /// `name@version` from two strings, validating both.
    pub fn from_parts(name: &str, version: &str) -> Result<PackageId, IdError> {
        Ok(PackageId {
            name: name.parse()?,
            version: version.parse()?,
        })
    }
}

impl FromStr for PackageId {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, IdError> {
        let Some((name, version)) = text.split_once('@') else {
            return Err(IdError(format!(
                "`{text}` is not a pin: write `name@version`, for example `libfoo@1.0.0`"
            )));
        };
        PackageId::from_parts(name, version)
            .map_err(|error| IdError(format!("`{text}`: {}", error.0)))
    }
}

/// `name@version`, the one spelling of a package version, for parts already validated.
pub fn id(name: &str, version: &str) -> String {
    format!("{name}@{version}")
}

/// The name and version of `name@version` (not validated; `None` without an `@`).
pub fn split_id(id: &str) -> Option<(&str, &str)> {
    id.split_once('@')
}

/// The name part of `name@version` (the whole text when it has no `@`).
pub fn name_of(id: &str) -> &str {
    split_id(id).map_or(id, |(name, _)| name)
}

macro_rules! text_type {
    ($type:ty) => {
        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl AsRef<str> for $type {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $type {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $type {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $type {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $type {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
    };
}

text_type!(PackageName);
text_type!(Version);

impl fmt::Display for PackageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

impl fmt::Debug for PackageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PackageId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_versions_and_ids() {
        for good in ["hello", "lib-greet", "a.b_c+d", "0ad"] {
            assert!(good.parse::<PackageName>().is_ok(), "{good}");
        }
        for bad in ["", "Hello", "-x", "a/b", "..", &"a".repeat(65)] {
            assert!(bad.parse::<PackageName>().is_err(), "{bad}");
        }
        for good in ["1", "1.2.3", "2.0.0-rc.1", "1.0+build.5"] {
            assert!(good.parse::<Version>().is_ok(), "{good}");
        }
        for bad in ["", "^1.0", "1.*", ">=2", "1..2", "1.0-", "v1"] {
            assert!(bad.parse::<Version>().is_err(), "{bad}");
        }
        let id: PackageId = "hello@1.2.3".parse().unwrap();
        assert_eq!(id.to_string(), "hello@1.2.3");
        assert_eq!(id.name, "hello");
        assert!("hello".parse::<PackageId>().is_err());
        assert!("hello@^1".parse::<PackageId>().is_err());
    }

    #[test]
    fn version_order() {
        let mut versions: Vec<Version> = [
            "1.10.0",
            "1.2.0",
            "1.2.0-rc.1",
            "1.2.0-rc.10",
            "1.2.0-rc.2",
            "0.9",
        ]
        .iter()
        .map(|text| text.parse().unwrap())
        .collect();
        versions.sort();
        let sorted: Vec<&str> = versions.iter().map(Version::as_str).collect();
        assert_eq!(
            sorted,
            [
                "0.9",
                "1.2.0-rc.1",
                "1.2.0-rc.2",
                "1.2.0-rc.10",
                "1.2.0",
                "1.10.0"
            ]
        );
        assert_eq!(compare_versions("1.0", "1.0.0"), Ordering::Equal);
        assert_eq!(compare_versions("1.0+a", "1.0+b"), Ordering::Equal);
    }
}
