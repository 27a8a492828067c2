"""The code points Ferry's text neutraliser makes visible, from Python's
`unicodedata` (independent of the Rust code): prints them as inclusive
ranges, one `first last` pair (hex) a line.

The set: every format character (Cf: soft hyphen, zero-width characters,
bidi controls, tags, interlinear annotation), every variation selector,
the Hangul and Khitan fillers, the braille blank, the combining grapheme
joiner, the Khmer inherent vowels, every combining overlay (canonical
combining class 1), and the unassigned code points of the
default-ignorable blocks.

Used by action/src/text/neutral.rs's test (run with FERRY_TEST_PYTHON), and to
write that file's table."""
import unicodedata as u

FILLERS = {"HANGUL CHOSEONG FILLER", "HANGUL JUNGSEONG FILLER", "HANGUL FILLER",
           "HALFWIDTH HANGUL FILLER", "KHITAN SMALL SCRIPT FILLER"}
OTHERS = {"BRAILLE PATTERN BLANK", "COMBINING GRAPHEME JOINER",
          "KHMER VOWEL INHERENT AQ", "KHMER VOWEL INHERENT AA"}
IGNORABLE_BLOCKS = [(0x2060, 0x206F), (0xFFF0, 0xFFFB), (0xE0000, 0xE0FFF), (0x1D173, 0x1D17A)]


def member(cp):
    c = chr(cp)
    cat, name = u.category(c), u.name(c, "")
    return (cat == "Cf"
            or "VARIATION SELECTOR" in name
            or name in FILLERS or name in OTHERS
            or u.combining(c) == 1
            or (cat == "Cn" and any(a <= cp <= b for a, b in IGNORABLE_BLOCKS)))


start = None
for cp in range(0x110001):
    m = cp < 0x110000 and not 0xD800 <= cp <= 0xDFFF and member(cp)
    if m and start is None:
        start = cp
    if not m and start is not None:
        print(f"{start:X} {cp - 1:X}")
        start = None
