//! Malformed plan files: each gets a clear error naming the file and a
//! non-zero exit from the real binary; tolerated wrappings still parse.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::ferry_command;

const MINIMAL: &str = r#"{"format_version":"1.2","planned_values":{},"resource_changes":[{"address":"terraform_data.a","mode":"managed","type":"terraform_data","name":"a","change":{"actions":["create"],"before":null,"after":{"input":"x"},"after_unknown":{"id":true}}}]}"#;

fn run(bytes: &[u8], extra: &[&str]) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    std::fs::write(&path, bytes).unwrap();
    let out = ferry_command()
        .args(["plan-comment", "--env", "staging", "--dry-run", "--plan"])
        .arg(&path)
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn utf16(text: &str, le: bool, bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if bom {
        out.extend(if le { [0xFF, 0xFE] } else { [0xFE, 0xFF] });
    }
    for u in text.encode_utf16() {
        out.extend(if le { u.to_le_bytes() } else { u.to_be_bytes() });
    }
    out
}

#[test]
fn malformed_plans_fail_with_a_clear_error() {
    let canary = "CANARY-7f3a-do-not-print";
    let two = format!("{MINIMAL}\n{MINIMAL}\n");
    let wrong_type = format!(
        r#"{{"format_version":"1.2","planned_values":{{}},"resource_changes":"{canary}"}}"#
    );
    let wrong_actions = format!(
        r#"{{"format_version":"1.2","planned_values":{{}},"resource_changes":[{{"address":"a.b","change":{{"actions":"{canary}"}}}}]}}"#
    );
    let trailing = format!("{MINIMAL}\nsome trailing text");
    let leading = format!("Acquiring state lock...\n{MINIMAL}");
    let truncated = &MINIMAL[..MINIMAL.len() / 2];
    let mut odd16 = utf16(MINIMAL, true, true);
    odd16.push(b'x');
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty file", b"".to_vec(), "the plan file is empty"),
        (
            "whitespace only",
            b" \n\t\n".to_vec(),
            "the plan file is empty",
        ),
        (
            "human plan text",
            b"Terraform will perform the following actions:\n".to_vec(),
            "no JSON object found",
        ),
        (
            "truncated",
            truncated.as_bytes().to_vec(),
            "the JSON is truncated",
        ),
        (
            "state file",
            br#"{"format_version":"1.0","terraform_version":"1.11.4","values":{"root_module":{}}}"#
                .to_vec(),
            "this is a state file",
        ),
        ("NDJSON", two.into_bytes(), "holds 2 JSON documents"),
        ("array", b"[1, 2]".to_vec(), "not an object"),
        ("scalar", b"42".to_vec(), "no JSON object found"),
        ("empty object", b"{}".to_vec(), "not a Terraform plan"),
        (
            "no format_version",
            br#"{"resource_changes":[]}"#.to_vec(),
            "not a Terraform plan",
        ),
        (
            "format 2.0",
            br#"{"format_version":"2.0","planned_values":{}}"#.to_vec(),
            "format_version \"2.0\" is not supported",
        ),
        (
            "wrong type",
            wrong_type.into_bytes(),
            "invalid plan JSON at line 1",
        ),
        (
            "wrong actions type",
            wrong_actions.into_bytes(),
            "invalid plan JSON at line 1",
        ),
        (
            "invalid UTF-8",
            b"{\"format_version\":\"1.2\xff\"}".to_vec(),
            "not UTF-8 text",
        ),
        ("odd UTF-16", odd16, "broken UTF-16"),
        (
            "leading noise",
            leading.into_bytes(),
            "unexpected text before the JSON on line 1",
        ),
        (
            "trailing noise",
            trailing.into_bytes(),
            "unexpected text after the JSON on line 2",
        ),
        (
            "syntax error",
            br#"{"format_version": 1.2.3}"#.to_vec(),
            "invalid plan JSON at line 1",
        ),
        (
            "binary plan, no terraform",
            b"PK\x03\x04rest-of-a-zip".to_vec(),
            "show -json",
        ),
    ];
    assert!(cases.len() >= 15);
    for (name, bytes, expected) in cases {
        let (ok, stdout, stderr) = run(&bytes, &["--terraform", "/nonexistent/terraform"]);
        assert!(!ok, "{name}: should fail");
        assert!(stdout.is_empty(), "{name}: printed a comment: {stdout}");
        assert!(
            stderr.contains(expected),
            "{name}: expected {expected:?} in {stderr:?}"
        );
        assert!(
            stderr.contains("plan.json"),
            "{name}: the error must name the file: {stderr}"
        );
        assert!(
            !stderr.contains(canary),
            "{name}: the error echoes a value: {stderr}"
        );
    }
}

#[test]
fn missing_file_is_named() {
    let out = ferry_command()
        .args([
            "plan-comment",
            "--env",
            "staging",
            "--dry-run",
            "--plan",
            "/nonexistent/plan.json",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/plan.json"), "{stderr}");
}

#[test]
fn tolerated_wrappings_parse() {
    let wrapper = format!(
        "[command]/tmp/x/terraform-bin show -json plan.tfplan\n{MINIMAL}%0A\n::set-output name=stderr::\n::set-output name=exitcode::0\n"
    );
    let mut bom8 = vec![0xEF, 0xBB, 0xBF];
    bom8.extend(MINIMAL.as_bytes());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("UTF-8 BOM", bom8),
        ("UTF-16LE BOM", utf16(MINIMAL, true, true)),
        ("UTF-16BE BOM", utf16(MINIMAL, false, true)),
        ("UTF-16LE without BOM", utf16(MINIMAL, true, false)),
        ("setup-terraform wrapper", wrapper.into_bytes()),
        (
            "CRLF and trailing blank lines",
            format!("{MINIMAL}\r\n\r\n").into_bytes(),
        ),
    ];
    for (name, bytes) in cases {
        let (ok, stdout, stderr) = run(&bytes, &[]);
        assert!(ok, "{name}: {stderr}");
        assert!(
            stdout.contains("Plan: 1 to add, 0 to change, 0 to destroy."),
            "{name}: {stdout}"
        );
    }
}
