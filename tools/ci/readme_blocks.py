#!/usr/bin/env python3
"""Extracts the fenced code blocks of a Markdown file for tools/ci/readme.sh.

Every block must follow a marker line `<!-- readme-ci: MODE ARGS -->` that says how CI
runs it (a block without one fails, so a new block cannot go unchecked). Writes
OUT/NN.block (the block's text) and prints one line per block: "NN LINE MODE ARGS".

  readme_blocks.py README.md OUT
"""
import os
import re
import sys

MARKER = re.compile(r"^<!--\s*readme-ci:\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^```(\w*)\s*$")


def main():
    source, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    lines = open(source, encoding="utf-8").read().split("\n")
    marker, block, start, count, errors = None, None, 0, 0, []
    for number, line in enumerate(lines, 1):
        if block is not None:
            if line.strip() == "```":
                count += 1
                with open(os.path.join(out, "%02d.block" % count), "w", encoding="utf-8") as f:
                    f.write("\n".join(block) + "\n")
                print("%02d %d %s" % (count, start, marker))
                block, marker = None, None
            else:
                block.append(line)
            continue
        m = MARKER.match(line)
        if m:
            marker = m.group(1)
            continue
        if FENCE.match(line):
            if marker is None:
                errors.append("%s:%d: code block without a <!-- readme-ci: ... --> marker"
                              % (source, number))
                marker = "missing"
            block, start = [], number
            continue
        if line.strip():
            marker = None  # a marker applies to the block right after it
    if block is not None:
        errors.append("%s:%d: unterminated code block" % (source, start))
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
