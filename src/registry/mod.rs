//! Registries: the signed index format a registry serves (`index.acl` + `index.acl.sig`), and
//! writing one for a directory of packages (`pandora registry index`).

pub mod client;
pub mod compact;
pub mod download;
pub mod index;
pub mod launchers;
pub mod publish;
pub mod transport;
