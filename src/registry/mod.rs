//! Registries: the signed index format a registry serves (`index.acl` + `index.acl.sig`), and
//! writing one for a directory of packages (`pandora registry index`).

pub mod access_log;
pub mod client;
pub mod compact;
pub mod download;
pub mod html;
pub mod index;
pub mod launchers;
pub mod metrics;
pub mod publish;
pub mod transport;
