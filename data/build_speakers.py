"""Build data/speakers.jsonl, an example task for `tinylm probe --labels`: who is speaking?

Speeches of four characters from the bundled corpus (data/shakespeare.txt), each record
{"text": the speech, "label": the speaker}, 100 per speaker, in corpus order.

    python data/build_speakers.py
"""

import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPEAKERS = ("Ham", "OTHELLO", "IAGO", "Lear")
PER_SPEAKER = 100
MIN_CHARS = 60  # short interjections ("My lord?") say little about who speaks


def main() -> None:
    text = (HERE / "shakespeare.txt").read_text(encoding="utf-8")
    speeches = re.findall(r"\n\n([A-Z][A-Za-z ]{1,20})\.\n(.+?)(?=\n\n)", text, re.S)
    kept = {s: 0 for s in SPEAKERS}
    lines = []
    for speaker, speech in speeches:
        if speaker in kept and kept[speaker] < PER_SPEAKER and len(speech) >= MIN_CHARS:
            kept[speaker] += 1
            lines.append(json.dumps({"text": speech, "label": speaker}))
    (HERE / "speakers.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
