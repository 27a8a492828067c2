//! The neutraliser: wherever outside text reaches a person (a
//! pull request comment, the job summary, the log), what cannot be seen is
//! made visible, and an address that mixes look-alike scripts is flagged.
//!
//! [`is_invisible`] is the full set of default-ignorable, invisible, bidi,
//! tag, filler, variation-selector and combining-overlay code points, as
//! `scripts/text.d/invisible.py` derives it from Unicode (14.0, the test
//! bed's Python); [`visible`] shows each as `⟨U+XXXX⟩`. [`mixed_scripts`]
//! finds a word whose letters come from more than one of Latin, Greek,
//! Cyrillic and Armenian (`pаypal` with a Cyrillic `а`). Both tables are
//! checked against Python's `unicodedata` by this module's tests.

use std::borrow::Cow;

/// The neutralised code points, as inclusive ranges in order
/// (`scripts/text.d/invisible.py`'s output).
const INVISIBLE: &[(u32, u32)] = &[
    (0xAD, 0xAD),
    (0x334, 0x338),
    (0x34F, 0x34F),
    (0x600, 0x605),
    (0x61C, 0x61C),
    (0x6DD, 0x6DD),
    (0x70F, 0x70F),
    (0x890, 0x891),
    (0x8E2, 0x8E2),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x1CD4, 0x1CD4),
    (0x1CE2, 0x1CE8),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x20D2, 0x20D3),
    (0x20D8, 0x20DA),
    (0x20E5, 0x20E6),
    (0x20EA, 0x20EB),
    (0x2800, 0x2800),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFFB),
    (0x10A39, 0x10A39),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x13438),
    (0x16AF0, 0x16AF4),
    (0x16FE4, 0x16FE4),
    (0x1BC9E, 0x1BC9E),
    (0x1BCA0, 0x1BCA3),
    (0x1D167, 0x1D169),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
];

/// A script whose letters look like Latin ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Script {
    /// Latin.
    Latin,
    /// Greek.
    Greek,
    /// Cyrillic.
    Cyrillic,
    /// Armenian.
    Armenian,
}

impl Script {
    /// The script's English name.
    pub fn name(self) -> &'static str {
        match self {
            Script::Latin => "Latin",
            Script::Greek => "Greek",
            Script::Cyrillic => "Cyrillic",
            Script::Armenian => "Armenian",
        }
    }
}

/// The letters of each [`Script`], as inclusive ranges in order
/// (`scripts/text.d/scripts.py`'s output).
const SCRIPTS: &[(u32, u32, Script)] = &[
    (0x41, 0x5A, Script::Latin),
    (0x61, 0x7A, Script::Latin),
    (0xC0, 0xD6, Script::Latin),
    (0xD8, 0xF6, Script::Latin),
    (0xF8, 0x2AF, Script::Latin),
    (0x370, 0x374, Script::Greek),
    (0x376, 0x377, Script::Greek),
    (0x37A, 0x37D, Script::Greek),
    (0x37F, 0x37F, Script::Greek),
    (0x386, 0x386, Script::Greek),
    (0x388, 0x38A, Script::Greek),
    (0x38C, 0x38C, Script::Greek),
    (0x38E, 0x3A1, Script::Greek),
    (0x3A3, 0x3E1, Script::Greek),
    (0x3F0, 0x3F5, Script::Greek),
    (0x3F7, 0x3FF, Script::Greek),
    (0x400, 0x481, Script::Cyrillic),
    (0x48A, 0x52F, Script::Cyrillic),
    (0x531, 0x556, Script::Armenian),
    (0x559, 0x559, Script::Armenian),
    (0x560, 0x588, Script::Armenian),
    (0x1C80, 0x1C88, Script::Cyrillic),
    (0x1D00, 0x1D25, Script::Latin),
    (0x1D26, 0x1D2A, Script::Greek),
    (0x1D2B, 0x1D2B, Script::Cyrillic),
    (0x1D62, 0x1D65, Script::Latin),
    (0x1D66, 0x1D6A, Script::Greek),
    (0x1D6B, 0x1D77, Script::Latin),
    (0x1D79, 0x1D9A, Script::Latin),
    (0x1E00, 0x1EFF, Script::Latin),
    (0x1F00, 0x1F15, Script::Greek),
    (0x1F18, 0x1F1D, Script::Greek),
    (0x1F20, 0x1F45, Script::Greek),
    (0x1F48, 0x1F4D, Script::Greek),
    (0x1F50, 0x1F57, Script::Greek),
    (0x1F59, 0x1F59, Script::Greek),
    (0x1F5B, 0x1F5B, Script::Greek),
    (0x1F5D, 0x1F5D, Script::Greek),
    (0x1F5F, 0x1F7D, Script::Greek),
    (0x1F80, 0x1FB4, Script::Greek),
    (0x1FB6, 0x1FBC, Script::Greek),
    (0x1FBE, 0x1FBE, Script::Greek),
    (0x1FC2, 0x1FC4, Script::Greek),
    (0x1FC6, 0x1FCC, Script::Greek),
    (0x1FD0, 0x1FD3, Script::Greek),
    (0x1FD6, 0x1FDB, Script::Greek),
    (0x1FE0, 0x1FEC, Script::Greek),
    (0x1FF2, 0x1FF4, Script::Greek),
    (0x1FF6, 0x1FFC, Script::Greek),
    (0x2090, 0x209C, Script::Latin),
    (0x2184, 0x2184, Script::Latin),
    (0x2C60, 0x2C7C, Script::Latin),
    (0x2C7E, 0x2C7F, Script::Latin),
    (0xA640, 0xA66E, Script::Cyrillic),
    (0xA67F, 0xA69B, Script::Cyrillic),
    (0xA722, 0xA76F, Script::Latin),
    (0xA771, 0xA787, Script::Latin),
    (0xA78B, 0xA7CA, Script::Latin),
    (0xA7D0, 0xA7D1, Script::Latin),
    (0xA7D3, 0xA7D3, Script::Latin),
    (0xA7D5, 0xA7D9, Script::Latin),
    (0xA7F5, 0xA7F7, Script::Latin),
    (0xA7FA, 0xA7FF, Script::Latin),
    (0xAB30, 0xAB5A, Script::Latin),
    (0xAB60, 0xAB64, Script::Latin),
    (0xAB65, 0xAB65, Script::Greek),
    (0xAB66, 0xAB68, Script::Latin),
    (0xFB00, 0xFB06, Script::Latin),
    (0xFB13, 0xFB17, Script::Armenian),
    (0xFF21, 0xFF3A, Script::Latin),
    (0xFF41, 0xFF5A, Script::Latin),
    (0x1DF00, 0x1DF1E, Script::Latin),
];

/// Whether `c` is shown as nothing (or changes how its neighbours show)
/// and so must be made visible.
pub fn is_invisible(c: char) -> bool {
    let cp = u32::from(c);
    INVISIBLE
        .binary_search_by(|&(first, last)| {
            if last < cp {
                std::cmp::Ordering::Less
            } else if first > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// [`is_invisible`] in context: an emoji presentation selector (U+FE0E,
/// U+FE0F) right after a symbol (`↩️`, `⚠️`) picks how the symbol is drawn
/// and hides nothing, so it stays; after a letter, a digit, a space or at
/// the start it is shown.
pub fn hidden_after(previous: Option<char>, c: char) -> bool {
    if matches!(c, '\u{FE0E}' | '\u{FE0F}')
        && previous.is_some_and(|p| {
            u32::from(p) >= 0x2000 && !p.is_alphanumeric() && !p.is_whitespace() && !is_invisible(p)
        })
    {
        return false;
    }
    is_invisible(c)
}

/// How an invisible character is shown: `⟨U+3164⟩` (the brackets have no
/// meaning in markdown, HTML or a log).
pub fn shown(c: char) -> String {
    format!("⟨U+{:04X}⟩", u32::from(c))
}

/// `text` with every invisible character shown as [`shown`] does.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_invisible) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut previous = None;
    for c in text.chars() {
        if hidden_after(previous, c) {
            out.push_str(&shown(c));
        } else {
            out.push(c);
        }
        previous = Some(c);
    }
    Cow::Owned(out)
}

/// The script of a letter, among those that spoof Latin ones.
pub fn script(c: char) -> Option<Script> {
    let cp = u32::from(c);
    let i = SCRIPTS.partition_point(|&(_, last, _)| last < cp);
    SCRIPTS
        .get(i)
        .filter(|&&(first, _, _)| first <= cp)
        .map(|&(_, _, s)| s)
}

/// The scripts a word of `text` (split at whitespace) mixes, in order, when
/// one does: `terraform_data.x["prod-dаtаbase"]` mixes Latin and Cyrillic.
pub fn mixed_scripts(text: &str) -> Option<Vec<Script>> {
    text.split(char::is_whitespace).find_map(|word| {
        let mut seen: Vec<Script> = word.chars().filter_map(script).collect();
        seen.sort();
        seen.dedup();
        (seen.len() > 1).then_some(seen)
    })
}

/// The warning for text whose word mixes scripts: `mixes Latin and
/// Cyrillic`, or `None`.
pub fn script_warning(text: &str) -> Option<String> {
    let scripts = mixed_scripts(text)?;
    let names: Vec<&str> = scripts.iter().map(|s| s.name()).collect();
    let (last, rest) = names.split_last()?;
    Some(format!("mixes {} and {last}", rest.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// Runs one of `scripts/text.d/*.py` with the test bed's Python
    /// (`FERRY_TEST_PYTHON`, else `python3`) and returns its lines.
    fn python(script: &str) -> Vec<String> {
        let python = std::env::var("FERRY_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scripts/text.d")
            .join(script);
        let out = std::process::Command::new(&python)
            .arg(&path)
            .output()
            .unwrap_or_else(|e| panic!("{python} {}: {e}", path.display()));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn hex(s: &str) -> u32 {
        u32::from_str_radix(s, 16).unwrap()
    }

    /// Python's invisible set, code point by code point.
    fn python_invisible() -> Vec<(u32, u32)> {
        python("invisible.py")
            .iter()
            .map(|l| {
                let (a, b) = l.split_once(' ').unwrap();
                (hex(a), hex(b))
            })
            .collect()
    }

    #[test]
    fn every_code_point_agrees_with_pythons_unicodedata() {
        let ranges = python_invisible();
        let member = |cp: u32| ranges.iter().any(|&(a, b)| a <= cp && cp <= b);
        let mut disagree = Vec::new();
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            if is_invisible(c) != member(u32::from(c)) {
                disagree.push(format!("U+{:04X}", u32::from(c)));
            }
        }
        assert!(
            disagree.is_empty(),
            "disagree with unicodedata: {disagree:?}"
        );
        // The shapes are all in.
        for c in [
            '\u{AD}',
            '\u{3164}',
            '\u{FFA0}',
            '\u{115F}',
            '\u{1160}',
            '\u{2800}',
            '\u{E0020}',
            '\u{E007F}',
            '\u{336}',
            '\u{34F}',
            '\u{FE0F}',
            '\u{206A}',
            '\u{180B}',
            '\u{17B4}',
            '\u{FFF9}',
            '\u{FFFB}',
            '\u{200B}',
            '\u{202E}',
            '\u{2066}',
            '\u{FEFF}',
        ] {
            assert!(is_invisible(c), "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn scripts_agree_with_pythons_unicodedata() {
        let mut python_letters: BTreeMap<u32, Script> = BTreeMap::new();
        for line in python("scripts.py") {
            let mut parts = line.split(' ');
            let (a, b, s) = (
                hex(parts.next().unwrap()),
                hex(parts.next().unwrap()),
                parts.next().unwrap(),
            );
            let s = match s {
                "LATIN" => Script::Latin,
                "GREEK" => Script::Greek,
                "CYRILLIC" => Script::Cyrillic,
                _ => Script::Armenian,
            };
            for cp in a..=b {
                python_letters.insert(cp, s);
            }
        }
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            assert_eq!(
                script(c),
                python_letters.get(&u32::from(c)).copied(),
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    fn any_char() -> impl Strategy<Value = char> {
        prop_oneof![
            any::<char>(),
            (0usize..INVISIBLE.len(), any::<u32>()).prop_map(|(i, n)| {
                let (a, b) = INVISIBLE[i];
                char::from_u32(a + n % (b - a + 1)).unwrap_or('x')
            }),
            "[a-zA-Z0-9._\\[\\]\"-]".prop_map(|s| s.chars().next().unwrap_or('a')),
        ]
    }

    proptest! {
        /// Generated strings: what `visible` leaves holds no member of
        /// Python's set, and reading each `⟨U+XXXX⟩` back gives the input.
        #[test]
        fn visible_leaves_nothing_invisible(chars in proptest::collection::vec(any_char(), 0..40)) {
            let ranges = python_invisible_cached();
            let input: String = chars.iter().collect();
            let out = visible(&input);
            let mut previous = None;
            for c in out.chars() {
                let cp = u32::from(c);
                let kept_selector = !hidden_after(previous, c);
                prop_assert!(kept_selector || !ranges.iter().any(|&(a, b)| a <= cp && cp <= b), "U+{cp:04X} left in {out:?}");
                if matches!(c, '\u{FE0E}' | '\u{FE0F}') {
                    // Only right after a symbol.
                    let p = previous.unwrap_or('a');
                    prop_assert!(u32::from(p) >= 0x2000 && !p.is_alphanumeric(), "{out:?}");
                }
                previous = Some(c);
            }
            let mut back = String::new();
            let mut rest = out.as_ref();
            while let Some(at) = rest.find('⟨') {
                back.push_str(&rest[..at]);
                let after = &rest[at + '⟨'.len_utf8()..];
                match after.strip_prefix("U+").and_then(|a| a.split_once('⟩')) {
                    Some((code, tail)) if input.contains(char::from_u32(hex(code)).unwrap()) => {
                        back.push(char::from_u32(hex(code)).unwrap());
                        rest = tail;
                    }
                    _ => {
                        back.push('⟨');
                        rest = after;
                    }
                }
            }
            back.push_str(rest);
            prop_assert_eq!(back, input);
        }
    }

    fn python_invisible_cached() -> &'static [(u32, u32)] {
        static RANGES: std::sync::OnceLock<Vec<(u32, u32)>> = std::sync::OnceLock::new();
        RANGES.get_or_init(python_invisible)
    }

    #[test]
    fn mixed_scripts_are_named() {
        assert_eq!(
            script_warning("terraform_data.x[\"prod-d\u{430}t\u{43E}base\"]").as_deref(),
            Some("mixes Latin and Cyrillic")
        );
        assert_eq!(script_warning("деплой в prod"), None);
        assert_eq!(script_warning("aws_s3_bucket.logs"), None);
        assert_eq!(visible("↩\u{FE0F} rolled back"), "↩\u{FE0F} rolled back");
        assert_eq!(visible("prod\u{FE0F}db"), "prod⟨U+FE0F⟩db");
        assert_eq!(visible("\u{FE0F}x"), "⟨U+FE0F⟩x");
        assert_eq!(
            script_warning("p\u{3B1}y\u{440}al").as_deref(),
            Some("mixes Latin, Greek and Cyrillic")
        );
    }
}
