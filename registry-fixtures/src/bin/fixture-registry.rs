//! `fixture-registry serve DIR`: serves a registry directory on 127.0.0.1 (a free port), prints
//! its URL on stdout, and stops when standard input closes. For demos and manual testing.

use std::io::{Read, Write};

fn main() -> std::process::ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let ["serve", directory] = arguments.iter().map(String::as_str).collect::<Vec<_>>()[..] else {
        eprintln!("usage: fixture-registry serve DIR");
        return std::process::ExitCode::from(2);
    };
    let server = match registry_fixtures::server::FixtureServer::start(directory) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("fixture-registry: cannot listen on 127.0.0.1: {error}");
            return std::process::ExitCode::from(1);
        }
    };
    println!("{}", server.url());
    let _ = std::io::stdout().flush();
    // Serve until whoever started us closes our standard input (or kills us).
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    std::process::ExitCode::SUCCESS
}
