//! Which platform a package is for: what its metadata declares (`linux_amd64`, or FlavorPack's
//! `linux/x86_64`), and what its launcher stub, a native executable, was compiled for (read
//! from the ELF, Mach-O or PE header). A package for another platform cannot run here, so it
//! is refused at install rather than failing on first use.

use std::fmt;

/// An operating system and a CPU architecture, in Rust's spelling (`linux`, `x86_64`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// `linux`, `macos`, `windows`, ...
    pub os: String,
    /// `x86_64`, `aarch64`, ...
    pub arch: String,
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.os, self.arch)
    }
}

impl Platform {
    /// This machine's.
    pub fn current() -> Platform {
        Platform {
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
        }
    }

    /// Reads `linux_amd64`, `linux-arm64`, `linux/x86_64` (Go's and FlavorPack's spellings
    /// included); `None` for anything else.
    pub fn parse(text: &str) -> Option<Platform> {
        let (os, arch) = text.split_once(['_', '/', '-'])?;
        let os = match os.to_ascii_lowercase().as_str() {
            "darwin" | "macos" => "macos".to_string(),
            other if !other.is_empty() => other.to_string(),
            _ => return None,
        };
        let arch = match arch.to_ascii_lowercase().as_str() {
            "amd64" | "x86_64" | "x64" => "x86_64".to_string(),
            "arm64" | "aarch64" => "aarch64".to_string(),
            "386" | "i386" | "i686" | "x86" => "x86".to_string(),
            other if !other.is_empty() => other.to_string(),
            _ => return None,
        };
        Some(Platform { os, arch })
    }

    /// What a native executable's first bytes say it runs on.
    pub fn of_executable(header: &[u8]) -> Option<Platform> {
        let platform = |os: &str, arch: &str| {
            Some(Platform {
                os: os.into(),
                arch: arch.into(),
            })
        };
        match header {
            [0x7f, b'E', b'L', b'F', _, data, ..] if header.len() >= 20 => {
                let machine = match data {
                    1 => u16::from_le_bytes([header[18], header[19]]),
                    _ => u16::from_be_bytes([header[18], header[19]]),
                };
                let arch = match machine {
                    3 => "x86",
                    40 => "arm",
                    62 => "x86_64",
                    183 => "aarch64",
                    243 => "riscv64",
                    21 => "powerpc64",
                    22 => "s390x",
                    _ => return None,
                };
                platform("linux", arch)
            }
            [0xcf, 0xfa, 0xed, 0xfe, a, b, c, d, ..] => {
                match u32::from_le_bytes([*a, *b, *c, *d]) {
                    0x0100_0007 => platform("macos", "x86_64"),
                    0x0100_000c => platform("macos", "aarch64"),
                    _ => None,
                }
            }
            [b'M', b'Z', ..] => platform("windows", "unknown"),
            _ => None,
        }
    }

    /// Whether a package for `self` runs on `host` (an unknown Windows architecture is still
    /// Windows, which is never this Linux).
    pub fn runs_on(&self, host: &Platform) -> bool {
        self.os == host.os && self.arch == host.arch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_agree() {
        let amd64 = Platform::parse("linux_amd64").unwrap();
        assert_eq!(amd64, Platform::parse("linux/x86_64").unwrap());
        assert_eq!(amd64.to_string(), "linux_x86_64");
        assert_eq!(
            Platform::parse("darwin-arm64").unwrap().to_string(),
            "macos_aarch64"
        );
        assert_eq!(Platform::parse("nonsense"), None);
    }

    #[test]
    fn executables_say_what_they_run_on() {
        let mut elf = vec![0x7f, b'E', b'L', b'F', 2, 1];
        elf.resize(20, 0);
        elf[18] = 183;
        assert_eq!(
            Platform::of_executable(&elf).unwrap().to_string(),
            "linux_aarch64"
        );
        elf[18] = 62;
        assert_eq!(
            Platform::of_executable(&elf).unwrap().to_string(),
            "linux_x86_64"
        );
        assert_eq!(Platform::of_executable(b"#!/bin/sh\n"), None);
    }
}
