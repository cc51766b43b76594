//! AWS credentials and region the way the AWS tools find them: `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`; else the profile `AWS_PROFILE` (default
//! `default`) in `~/.aws/credentials` (`AWS_SHARED_CREDENTIALS_FILE`) and `~/.aws/config`
//! (`AWS_CONFIG_FILE`). Never from `registries.acl`. Only these keys are read, so a small INI
//! reader does.

use std::path::{Path, PathBuf};

use super::{PublishError, StorageFailure};

/// Keys to sign S3 requests with.
#[derive(Clone)]
pub struct Credentials {
    /// `aws_access_key_id`.
    pub access_key_id: String,
    /// `aws_secret_access_key`.
    pub secret_access_key: String,
    /// `aws_session_token`, for temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret never reaches a log or an error message.
        formatter
            .debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// The environment and the shared files, as one lookup.
pub struct AwsEnvironment<'e> {
    variable: &'e dyn Fn(&str) -> Option<String>,
    home: Option<PathBuf>,
}

impl std::fmt::Debug for AwsEnvironment<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AwsEnvironment")
            .field("home", &self.home)
            .finish_non_exhaustive()
    }
}

impl<'e> AwsEnvironment<'e> {
    /// Reads variables with `variable`; the shared files are under `home`/.aws unless the
    /// variables say otherwise.
    pub fn new(variable: &'e dyn Fn(&str) -> Option<String>, home: Option<&Path>) -> Self {
        AwsEnvironment {
            variable,
            home: home.map(Path::to_path_buf),
        }
    }

    fn var(&self, name: &str) -> Option<String> {
        (self.variable)(name).filter(|value| !value.is_empty())
    }

    fn profile(&self) -> String {
        self.var("AWS_PROFILE")
            .unwrap_or_else(|| "default".to_string())
    }

    fn file(&self, variable: &str, name: &str) -> Option<PathBuf> {
        self.var(variable)
            .map(PathBuf::from)
            .or_else(|| self.home.as_ref().map(|home| home.join(".aws").join(name)))
    }

    /// `key` of the profile: from the credentials file (`[NAME]`), then the config file
    /// (`[profile NAME]`, or `[default]`).
    fn shared(&self, key: &str) -> Option<String> {
        let profile = self.profile();
        let config_section = if profile == "default" {
            profile.clone()
        } else {
            format!("profile {profile}")
        };
        [
            (
                self.file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
                profile,
            ),
            (self.file("AWS_CONFIG_FILE", "config"), config_section),
        ]
        .into_iter()
        .find_map(|(file, section)| {
            let text = fs_err::read_to_string(file?).ok()?;
            ini_value(&text, &section, key)
        })
    }

    /// The credentials, or an error saying where they were looked for.
    pub fn credentials(&self) -> Result<Credentials, PublishError> {
        if let (Some(access_key_id), Some(secret_access_key)) = (
            self.var("AWS_ACCESS_KEY_ID"),
            self.var("AWS_SECRET_ACCESS_KEY"),
        ) {
            return Ok(Credentials {
                access_key_id,
                secret_access_key,
                session_token: self.var("AWS_SESSION_TOKEN"),
            });
        }
        match (
            self.shared("aws_access_key_id"),
            self.shared("aws_secret_access_key"),
        ) {
            (Some(access_key_id), Some(secret_access_key)) => Ok(Credentials {
                access_key_id,
                secret_access_key,
                session_token: self.shared("aws_session_token"),
            }),
            _ => Err(PublishError::Storage {
                action: "find credentials for",
                location: format!("AWS profile `{}`", self.profile()),
                message: "no AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment, and none for the profile in ~/.aws/credentials or ~/.aws/config".into(),
                kind: StorageFailure::Credentials,
            }),
        }
    }

    /// The region: `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`, else us-east-1.
    pub fn region(&self) -> String {
        self.var("AWS_REGION")
            .or_else(|| self.var("AWS_DEFAULT_REGION"))
            .or_else(|| self.shared("region"))
            .unwrap_or_else(|| "us-east-1".to_string())
    }

    /// `AWS_ENDPOINT_URL`, for S3-compatible storage elsewhere than AWS.
    pub fn endpoint(&self) -> Option<String> {
        self.var("AWS_ENDPOINT_URL_S3")
            .or_else(|| self.var("AWS_ENDPOINT_URL"))
    }
}

/// `key` in `[section]` of an INI text (`#` and `;` start comments).
fn ini_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut current = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.trim().to_string());
            continue;
        }
        if current.as_deref() != Some(section) {
            continue;
        }
        if let Some((name, value)) = line.split_once('=') {
            if name.trim() == key {
                return Some(value.trim().to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_come_from_the_shared_files() {
        let home = tempfile::tempdir().unwrap();
        let aws = home.path().join(".aws");
        fs_err::create_dir_all(&aws).unwrap();
        fs_err::write(
            aws.join("credentials"),
            "# mine\n[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = s1\n\n[ci]\naws_access_key_id=AKCI\naws_secret_access_key = s2\naws_session_token = t\n",
        )
        .unwrap();
        fs_err::write(aws.join("config"), "[profile ci]\nregion = eu-west-3\n").unwrap();
        let none = |_: &str| None;
        let environment = AwsEnvironment::new(&none, Some(home.path()));
        let found = environment.credentials().unwrap();
        assert_eq!(found.access_key_id, "AKDEFAULT");
        assert_eq!(found.session_token, None);
        assert_eq!(environment.region(), "us-east-1");
        let ci = |name: &str| (name == "AWS_PROFILE").then(|| "ci".to_string());
        let environment = AwsEnvironment::new(&ci, Some(home.path()));
        let found = environment.credentials().unwrap();
        assert_eq!(
            (
                found.access_key_id.as_str(),
                found.secret_access_key.as_str()
            ),
            ("AKCI", "s2")
        );
        assert_eq!(found.session_token.as_deref(), Some("t"));
        assert_eq!(environment.region(), "eu-west-3");
        assert!(!format!("{found:?}").contains("s2"));
        let variables = |name: &str| match name {
            "AWS_ACCESS_KEY_ID" => Some("AKENV".to_string()),
            "AWS_SECRET_ACCESS_KEY" => Some("s3".to_string()),
            "AWS_REGION" => Some("ap-south-1".to_string()),
            _ => None,
        };
        let environment = AwsEnvironment::new(&variables, Some(home.path()));
        assert_eq!(environment.credentials().unwrap().access_key_id, "AKENV");
        assert_eq!(environment.region(), "ap-south-1");
        let nowhere = AwsEnvironment::new(&none, Some(&home.path().join("nope")));
        assert!(nowhere.credentials().is_err());
    }
}
