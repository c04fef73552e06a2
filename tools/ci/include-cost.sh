#!/usr/bin/env bash
# CI: what `#include <tlsengine/tlsengine.hpp>` costs a user's translation unit, beside
# OpenSSL's own <openssl/ssl.h>: compile time (the compiler's CPU seconds, user + system,
# best of N runs: unlike wall time it holds on a busy CI machine) and its peak memory for
# a one-line TU, at -O0 and -O2, with g++ and clang++; in the default header-only mode and
# with TLSENGINE_SEPARATE_COMPILATION (tlsengine::compiled: the headers only declare).
#   bash tools/ci/include-cost.sh [RUNS]      (default 3)
# TLSENGINE_INCLUDE_DIR=DIR measures another tree's headers (e.g. an older commit's).
# Needs: build-essential clang libssl-dev python3 binutils (Debian). Prints a table; fails
# when a TU does not compile, or when a one-line TU defines any tlsengine symbol: including
# the header must define nothing (a vtable with a key function in a header once made every user TU
# compile the whole engine). Timings depend on the machine: reported, not judged.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
runs=${1:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo '#include <openssl/ssl.h>' >"$work/openssl.cpp"
echo '#include <tlsengine/tlsengine.hpp>' >"$work/tlsengine.cpp"
printf '#include <tlsengine/tlsengine.hpp>\n#include <tlsengine/asio.hpp>\n' >"$work/asio.cpp"

python3 - "${TLSENGINE_INCLUDE_DIR:-$repo/include}" "$work" "$runs" <<'PY'
import os, subprocess, sys
include, work, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])

SEPARATE = "-DTLSENGINE_SEPARATE_COMPILATION"

def measure(cxx, opt, tu, defines=()):
    """Best CPU time of `runs` compilations, and the largest peak RSS (KiB) of one."""
    best, peak = None, 0
    for _ in range(runs):
        cmd = [cxx, "-std=c++17", opt, "-I", include, "-DASIO_STANDALONE", *defines,
               "-c", os.path.join(work, tu + ".cpp"), "-o", os.devnull]
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(p.pid, 0)  # this compiler's own peak RSS
        elapsed = usage.ru_utime + usage.ru_stime
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            sys.stderr.write(" ".join(cmd) + "\n" + p.stderr.read())
            sys.exit(1)
        peak = max(peak, usage.ru_maxrss)
        best = elapsed if best is None else min(best, elapsed)
    return best, peak

def emitted_symbols(cxx, tu, defines=()):
    """tlsengine's symbols defined in the object of a TU that only includes headers
    (Asio's own headers define a few of theirs: those are not ours to judge)."""
    obj = os.path.join(work, tu + ".o")
    subprocess.run([cxx, "-std=c++17", "-O0", "-I", include, "-DASIO_STANDALONE", *defines, "-c",
                    os.path.join(work, tu + ".cpp"), "-o", obj], check=True)
    out = subprocess.run(["nm", "-C", "--defined-only", obj], capture_output=True, text=True,
                         check=True).stdout
    return [line.split(" ", 2)[2] for line in out.splitlines() if "tlsengine::" in line]

compilers = [c for c in ("g++", "clang++") if subprocess.run(["sh", "-c", "command -v " + c],
             capture_output=True).returncode == 0]
print("include cost of a one-line TU (best of %d; peak RSS of the compiler)" % runs)
print("%-8s %-4s %-38s %8s %9s %8s" % ("compiler", "opt", "TU", "cpu s", "peak MiB", "x ssl.h"))
for cxx in compilers:
    for opt in ("-O0", "-O2"):
        base = None
        for tu, label, defines in (
                ("openssl", "#include <openssl/ssl.h>", ()),
                ("tlsengine", "#include <tlsengine/tlsengine.hpp>", ()),
                ("asio", "+ #include <tlsengine/asio.hpp>", ()),
                ("tlsengine", "tlsengine.hpp, separate compilation", (SEPARATE,)),
                ("asio", "+ asio.hpp, separate compilation", (SEPARATE,))):
            if tu == "asio" and not os.path.exists("/usr/include/asio.hpp"):
                continue
            seconds, peak = measure(cxx, opt, tu, defines)
            base = base or seconds
            print("%-8s %-4s %-38s %8.2f %9s %7.1fx" % (cxx, opt, label, seconds,
                  "%.0f" % (peak / 1024), seconds / base))

failed = False
for cxx in compilers:
    for tu in ("tlsengine", "asio"):
        if tu == "asio" and not os.path.exists("/usr/include/asio.hpp"):
            continue
        for defines in ((), (SEPARATE,)):
            emitted = emitted_symbols(cxx, tu, defines)
            if emitted:
                print("FAIL: %s%s: a TU that only includes %s defines %d tlsengine symbols, "
                      "e.g. %s" % (cxx, "".join(" " + d for d in defines), tu, len(emitted),
                                   emitted[:3]))
                failed = True
print("one-line TUs define no tlsengine symbol (both modes)" if not failed else "")
sys.exit(1 if failed else 0)
PY
