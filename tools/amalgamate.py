#!/usr/bin/env python3
"""Build the single-header amalgamation of tlsengine.

Reads include/tlsengine/tlsengine.hpp and recursively inlines every
``#include "..."`` and ``#include <tlsengine/...>`` that resolves to a file under
include/. Each header is inlined once, where it is first included (so in dependency
order), with its ``#pragma once`` removed. System includes are kept as written; an
identical system include already emitted outside any #if block is dropped.

Quoted includes are resolved relative to the including file's directory first, then
relative to include/. Includes that resolve to nothing under include/ are kept as written.

Usage:
  tools/amalgamate.py                 write single_include/tlsengine/tlsengine.hpp
  tools/amalgamate.py --check         write nothing; exit 1 if the file is stale or missing
  tools/amalgamate.py --output PATH   write (or, with --check, compare) PATH instead
  tools/amalgamate.py --root DIR      use DIR as the repository root (default: this
                                      script's parent directory)
"""

import argparse
import os
import re
import sys

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*(?:"([^"]+)"|<([^>]+)>)')
PRAGMA_ONCE_RE = re.compile(r"^\s*#\s*pragma\s+once\b")
IF_RE = re.compile(r"^\s*#\s*if(?:n?def)?\b")
ENDIF_RE = re.compile(r"^\s*#\s*endif\b")
# `#if !defined(TLSENGINE_SEPARATE_COMPILATION)` around a header's impl/ include: the
# single header is header-only, so the guard is dropped and the implementation inlined.
SEPARATE_GUARD_RE = re.compile(r"^\s*#\s*if\s+!\s*defined\s*\(?\s*TLSENGINE_SEPARATE_COMPILATION\b")
PROJECT_VERSION_RE = re.compile(
    r"\bproject\s*\(\s*tlsengine\b[^)]*?\bVERSION\s+([0-9]+(?:\.[0-9]+)*)", re.IGNORECASE
)

UMBRELLA = os.path.join("tlsengine", "tlsengine.hpp")
DEFAULT_OUTPUT = os.path.join("single_include", "tlsengine", "tlsengine.hpp")


class AmalgamateError(Exception):
    pass


def read_version(root):
    path = os.path.join(root, "CMakeLists.txt")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise AmalgamateError("cannot read %s: %s" % (path, e.strerror))
    m = PROJECT_VERSION_RE.search(text)
    if not m:
        raise AmalgamateError("no 'project(tlsengine VERSION x.y.z ...)' in %s" % path)
    return m.group(1)


class Amalgamator:
    def __init__(self, include_dir):
        self.include_dir = os.path.realpath(include_dir)
        self.done = set()  # real paths of headers already inlined (or being inlined)
        self.system_seen = set()  # system include lines emitted outside any #if
        self.out = []
        self.warnings = []

    def rel(self, path):
        return os.path.relpath(path, self.include_dir).replace(os.sep, "/")

    def under_include(self, path):
        real = os.path.realpath(path)
        return real if os.path.commonpath([real, self.include_dir]) == self.include_dir else None

    def resolve(self, name, quoted, current_dir):
        """The real path under include/ that an include names, or None."""
        candidates = []
        if quoted:
            candidates.append(os.path.join(current_dir, name))
            candidates.append(os.path.join(self.include_dir, name))
        elif name.startswith("tlsengine/"):
            candidates.append(os.path.join(self.include_dir, name))
        for c in candidates:
            if os.path.isfile(c):
                real = self.under_include(c)
                if real:
                    return real
        return None

    def inline(self, path, outer_depth):
        """Appends path's text to the output, inlining its local includes."""
        self.done.add(path)
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as e:
            raise AmalgamateError("cannot read %s: %s" % (path, e.strerror))
        except UnicodeDecodeError:
            raise AmalgamateError("%s is not UTF-8" % path)

        self.out.append("// ---- begin %s ----" % self.rel(path))
        depth = 0  # #if nesting inside this file
        dropped = []  # per open #if: is it a dropped separate-compilation guard?
        for lineno, line in enumerate(lines, 1):
            if PRAGMA_ONCE_RE.match(line):
                continue
            if SEPARATE_GUARD_RE.match(line):
                dropped.append(True)
                continue
            if IF_RE.match(line):
                dropped.append(False)
                depth += 1
            elif ENDIF_RE.match(line):
                if dropped and dropped.pop():
                    continue
                depth = max(0, depth - 1)

            m = INCLUDE_RE.match(line)
            if not m:
                self.out.append(line)
                continue
            quoted = m.group(1) is not None
            name = m.group(1) if quoted else m.group(2)
            target = self.resolve(name, quoted, os.path.dirname(path))
            if target is None:
                if name.startswith("tlsengine/") or (quoted and name.startswith("detail/")):
                    raise AmalgamateError(
                        "%s:%d: cannot resolve %s under %s"
                        % (path, lineno, line.strip(), self.include_dir))
                # A system (or foreign) include: keep it, once at top level.
                key = re.sub(r"\s+", " ", line.strip())
                if outer_depth + depth == 0:
                    if key in self.system_seen:
                        continue
                    self.system_seen.add(key)
                self.out.append(line)
                continue
            if outer_depth + depth > 0:
                self.warnings.append(
                    "%s:%d: #include of %s inside #if; it is inlined only once, here"
                    % (self.rel(path), lineno, self.rel(target)))
            if target in self.done:
                continue
            self.inline(target, outer_depth + depth)
        self.out.append("// ---- end %s ----" % self.rel(path))


def generate(root):
    version = read_version(root)
    include_dir = os.path.join(root, "include")
    umbrella = os.path.join(include_dir, UMBRELLA)
    if not os.path.isfile(umbrella):
        raise AmalgamateError("missing %s" % umbrella)
    a = Amalgamator(include_dir)
    a.inline(os.path.realpath(umbrella), 0)
    header = [
        "// tlsengine v%s \u2014 single-header amalgamation. "
        "Generated by tools/amalgamate.py; do not edit." % version,
        "// SPDX-License-Identifier: MIT",
        "#pragma once",
        "",
        "#if defined(TLSENGINE_SEPARATE_COMPILATION)",
        "#error \"the single header is header-only; TLSENGINE_SEPARATE_COMPILATION needs include/ "
        "and <tlsengine/impl/src.hpp>\"",
        "#endif",
        "",
    ]
    return "\n".join(header + a.out) + "\n", a.warnings


def main(argv=None):
    default_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description="Generate the tlsengine single-header amalgamation.")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if the output file differs or is missing")
    p.add_argument("--output", metavar="PATH",
                   help="output file (default: <root>/%s)" % DEFAULT_OUTPUT.replace(os.sep, "/"))
    p.add_argument("--root", metavar="DIR", default=default_root,
                   help="repository root (default: %(default)s)")
    args = p.parse_args(argv)

    root = os.path.abspath(args.root)
    output = os.path.abspath(args.output) if args.output else os.path.join(root, DEFAULT_OUTPUT)
    try:
        text, warnings = generate(root)
    except AmalgamateError as e:
        print("amalgamate.py: error: %s" % e, file=sys.stderr)
        return 2
    for w in warnings:
        print("amalgamate.py: warning: %s" % w, file=sys.stderr)

    if args.check:
        try:
            with open(output, encoding="utf-8", newline="") as f:
                current = f.read()
        except FileNotFoundError:
            print("amalgamate.py: %s is missing; run tools/amalgamate.py" % output,
                  file=sys.stderr)
            return 1
        except (OSError, UnicodeDecodeError) as e:
            print("amalgamate.py: cannot read %s: %s" % (output, e), file=sys.stderr)
            return 1
        if current != text:
            print("amalgamate.py: %s is out of date; run tools/amalgamate.py" % output,
                  file=sys.stderr)
            return 1
        print("amalgamate.py: %s is up to date" % output)
        return 0

    os.makedirs(os.path.dirname(output), exist_ok=True)
    tmp = output + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, output)
    print("amalgamate.py: wrote %s" % output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
