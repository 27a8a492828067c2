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

/// A boolean action input or flag value: `true`/`false` (any case), also
/// `yes`/`no`, `on`/`off`, `1`/`0`; empty (an input not given) is false.
/// Anything else is refused rather than guessed.
pub fn bool_input(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "false" | "no" | "off" | "0" => Ok(false),
        "true" | "yes" | "on" | "1" => Ok(true),
        _ => Err(format!(
            "`{}` is not a boolean: use true or false",
            text.trim()
        )),
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
    fn boolean_inputs_accept_yaml_spellings_and_empty_and_refuse_the_rest() {
        for t in ["true", "True", "TRUE", " yes ", "on", "1"] {
            assert_eq!(bool_input(t), Ok(true), "{t}");
        }
        for f in ["", "  ", "false", "False", "no", "off", "0"] {
            assert_eq!(bool_input(f), Ok(false), "{f:?}");
        }
        let err = bool_input("ture").unwrap_err();
        assert!(
            err.contains("`ture`") && err.contains("true or false"),
            "{err}"
        );
    }

    #[test]
    fn without_either_clap_gets_the_bare_program_and_prints_usage() {
        assert_eq!(args(&["ferry"], &[]), ["ferry"]);
        assert_eq!(args(&["ferry"], &[("INPUT_COMMAND", "  ")]), ["ferry"]);
    }
}
