//! `acl`: check, evaluate and query ACL files from the shell.
//!
//! ```text
//! acl check FILE...      exit 1 (with caret errors) if any file does not parse or resolve
//! acl eval FILE          print the resolved document as canonical ACL
//! acl get FILE PATH      print one value: strings raw, arrays one item per line
//! ```
//! `FILE` may be `-` for standard input. Exit codes: 0 ok, 1 invalid input, 2 usage.

use std::io::{Read, Write};
use std::process::ExitCode;

use acl_parser::{Document, Value};

const USAGE: &str = "usage:
  acl check FILE...    check that each file parses and resolves
  acl eval FILE        print the resolved document as canonical ACL
  acl get FILE PATH    print the value at PATH, e.g. Registry.Package[\"jq\"].latest

FILE may be `-` for standard input.";

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = arguments.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["check", files @ ..] if !files.is_empty() => {
            let mut failed = false;
            for file in files {
                if let Err(message) = load(file) {
                    eprintln!("{message}");
                    failed = true;
                }
            }
            if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        ["eval", file] => finish(load(file).map(|document| document.to_string())),
        ["get", file, path] => finish(load(file).and_then(|document| {
            let value = document
                .get(path)
                .map_err(|error| format!("error: {file}: {error}"))?;
            Ok(match value {
                Value::Array(items) => items.iter().map(|item| plain(item) + "\n").collect(),
                other => plain(other) + "\n",
            })
        })),
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn plain(value: &Value) -> String {
    value.to_text()
}

fn finish(result: Result<String, String>) -> ExitCode {
    match result {
        Ok(text) => {
            // A closed pipe (`acl eval f | head`) is not an error worth a message.
            let _ = std::io::stdout().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(1)
        }
    }
}

fn load(file: &str) -> Result<Document, String> {
    let mut text = String::new();
    let read = if file == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(file).map(|contents| text = contents)
    };
    read.map_err(|error| format!("error: cannot read {file}: {error}"))?;
    let name = if file == "-" { "<stdin>" } else { file };
    acl_parser::from_str(name, &text).map_err(|error| format!("error: {error}"))
}
