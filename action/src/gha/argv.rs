//! The command line of a container action: the runner starts the image's
//! entrypoint with no arguments (`action.yml` declares no `args`) and hands
//! every input over as an `INPUT_<NAME>` variable, so the subcommand comes
//! from the `command` input.

use std::ffi::OsString;

/// The arguments clap should parse: `argv` unchanged when it names anything
/// beyond the program, else the program followed by the `command` input
/// (`INPUT_COMMAND`), so `uses: ./action` with `command: detect` runs
/// `ferry detect`. With neither, `argv` is returned and clap prints its usage.
pub fn action_args(argv: Vec<OsString>, env: &dyn Fn(&str) -> Option<String>) -> Vec<OsString> {
    if argv.len() > 1 {
        return argv;
    }
    match super::input_with(env, "command") {
        Some(command) => {
            let program = argv
                .into_iter()
                .next()
                .unwrap_or_else(|| OsString::from("ferry"));
            vec![program, OsString::from(command)]
        }
        None => argv,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(argv: &[&str], vars: &[(&str, &str)]) -> Vec<String> {
        let lookup = |k: &str| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        };
        action_args(argv.iter().map(OsString::from).collect(), &lookup)
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn the_command_input_names_the_subcommand_when_argv_is_empty() {
        assert_eq!(
            args(&["/usr/local/bin/ferry"], &[("INPUT_COMMAND", " detect\n")]),
            ["/usr/local/bin/ferry", "detect"]
        );
    }

    #[test]
    fn an_explicit_command_line_wins_over_the_input() {
        assert_eq!(
            args(
                &["ferry", "render", "--check"],
                &[("INPUT_COMMAND", "deploy")]
            ),
            ["ferry", "render", "--check"]
        );
    }

    #[test]
    fn without_either_clap_gets_the_bare_program_and_prints_usage() {
        assert_eq!(args(&["ferry"], &[]), ["ferry"]);
        assert_eq!(args(&["ferry"], &[("INPUT_COMMAND", "  ")]), ["ferry"]);
    }
}
