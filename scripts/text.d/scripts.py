"""The letters of the scripts whose look-alikes spoof a Latin address
(Latin, Greek, Cyrillic, Armenian), from Python's `unicodedata` names:
prints inclusive ranges `first last SCRIPT` (hex), one a line.

A letter (category L*) belongs to the script its name starts with
(`FULLWIDTH ` and `HALFWIDTH ` set aside). Used by action/src/text/neutral.rs's
test (run with FERRY_TEST_PYTHON), and to write that file's table."""
import unicodedata as u

SCRIPTS = ("LATIN", "GREEK", "CYRILLIC", "ARMENIAN")


def script(cp):
    c = chr(cp)
    if not u.category(c).startswith("L"):
        return None
    name = u.name(c, "")
    for prefix in ("FULLWIDTH ", "HALFWIDTH "):
        if name.startswith(prefix):
            name = name[len(prefix):]
    first = name.split(" ", 1)[0]
    return first if first in SCRIPTS else None


start, current = None, None
for cp in range(0x110001):
    s = script(cp) if cp < 0x110000 and not 0xD800 <= cp <= 0xDFFF else None
    if s != current:
        if current is not None:
            print(f"{start:X} {cp - 1:X} {current}")
        start, current = cp, s
