//! The generated man pages say what the code says: every environment variable, the exit
//! codes, the home layout, examples; the launcher has its own page; nothing points at a page
//! that does not exist.

#[test]
fn pages_have_environment_files_exit_status_and_examples() {
    let pages = pandora::cli::man_pages();
    let page = |name: &str| {
        let (_, text) = pages
            .iter()
            .find(|(page, _)| page == name)
            .unwrap_or_else(|| panic!("no {name}"));
        String::from_utf8(text.clone()).unwrap()
    };
    let main = page("pandora.1");
    for section in [
        ".SH ENVIRONMENT",
        ".SH FILES",
        ".SH \"EXIT STATUS\"",
        ".SH EXAMPLES",
    ] {
        assert!(main.contains(section), "{section} missing");
    }
    let environment = &main[main.find(".SH ENVIRONMENT").unwrap()..main.find(".SH FILES").unwrap()];
    for variable in pandora::env_vars::ALL {
        let entry = format!("\\fB{variable}\\fR\n");
        let at = environment
            .find(&entry)
            .unwrap_or_else(|| panic!("{variable} is not in ENVIRONMENT"));
        // Followed by its meaning, not by the next entry.
        let meaning = environment[at + entry.len()..].lines().next().unwrap();
        assert!(
            meaning.len() > 10 && !meaning.starts_with('.'),
            "{variable}: {meaning}"
        );
    }
    for (code, _) in pandora::exit::EXIT_CODES {
        assert!(
            main.contains(&format!(".TP\n\\fB{code}\\fR\n")),
            "exit {code}"
        );
    }
    assert!(main.contains("keys/trusted/"));

    let launcher = page("pandora-launcher.1");
    for expected in [
        "PANDORA_REQUIRE_TRUSTED",
        "111",
        "112",
        "113",
        "114",
        ".SH \"EXIT STATUS\"",
    ] {
        assert!(
            launcher.contains(expected),
            "{expected} missing from pandora-launcher.1"
        );
    }

    // Every `pandora-NAME(1)` referenced is a page that exists.
    let names: Vec<String> = pages.iter().map(|(name, _)| name.clone()).collect();
    for (name, text) in &pages {
        let text = String::from_utf8_lossy(text).replace("\\-", "-");
        for (at, _) in text.match_indices("(1)") {
            let start = text[..at]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .map_or(0, |start| start + 1);
            let referenced = format!("{}.1", &text[start..at]);
            if referenced.starts_with("pandora") {
                assert!(names.contains(&referenced), "{name} points at {referenced}");
            }
        }
    }
}
