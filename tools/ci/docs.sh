#!/usr/bin/env bash
# CI: the documentation a newcomer starts from.
#   1. Doxygen builds the site (any warning fails): the start page is the README, with the
#      guide pages (drain loop, decisions, errors, examples, design) beside the reference.
#   2. Headless Chromium renders the start page and the drain-loop page to PNG files
#      (kept in OUT_DIR for a person to look at) and the pages hold what they should.
#   3. Nothing in the repository refers to files outside it.
#   bash tools/ci/docs.sh [OUT_DIR]     (default: build-docs/screenshots)
# Needs: cmake libssl-dev doxygen chromium (Debian).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$repo/build-docs
out=${1:-$build/screenshots}
status=0
fail() { echo "FAIL: $*" >&2; status=1; }

cmake -S "$repo" -B "$build" -DTLSENGINE_BUILD_TESTS=OFF -DTLSENGINE_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" --target docs
html=$build/docs/html
grep -q "sans-I/O TLS engine" "$html/index.html" || fail "the start page is not the README"
grep -q "https_get.cpp" "$html/index.html" || fail "the start page lacks the README's program"
for page in drain_loop decisions errors examples design; do
  [ -f "$html/$page.html" ] || { fail "no page $page.html"; continue; }
  grep -q "href=\"$page.html" "$html/index.html" || fail "the start page does not link $page.html"
done

mkdir -p "$out"
for page in index drain_loop; do
  rm -f "$out/$page.png"
  timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --virtual-time-budget=5000 --window-size=1280,1600 --user-data-dir="$(mktemp -d)" \
    --screenshot="$out/$page.png" "file://$html/$page.html" >/dev/null 2>&1 || true
  # A blank page compresses to a few KiB; a rendered one with text and code is far larger.
  size=$(stat -c %s "$out/$page.png" 2>/dev/null || echo 0)
  if [ "$size" -gt 50000 ]; then
    echo "ok: $page.html rendered: $out/$page.png ($size bytes)"
  else
    fail "$page.html did not render ($size bytes)"
  fi
done

# Paths that lead outside the checkout: absolute /work/... style paths, a "shared/"
# design folder, and Markdown links climbing out of the repository root.
cd "$repo"
# (this script, which spells the patterns, is not scanned)
outside=$(git ls-files | grep -v -e '^single_include/' -e '^tools/ci/docs.sh$' | xargs grep -nE '/work/|\.\./shared|(^|[^.])shared/DESIGN|OPENSSL-NOTES' 2>/dev/null || true)
[ -z "$outside" ] || fail "references outside the repository:"$'\n'"$outside"
for md in $(git ls-files '*.md'); do
  dir=$(dirname "$md")
  while IFS= read -r target; do
    target=${target%%#*}
    [[ $target =~ ^[A-Za-z0-9_./-]+$ ]] || continue # code in brackets, not a link
    case "$target" in http://* | https://* | mailto:*) continue ;; esac
    resolved=$(realpath -m "$dir/$target")
    case "$resolved" in
    "$repo"/*) [ -e "$resolved" ] || fail "$md: link to a missing file: $target" ;;
    *) fail "$md: link outside the repository: $target" ;;
    esac
  done < <(grep -oE '\]\([^)]+\)' "$md" | sed -E 's/^\]\((.*)\)$/\1/')
done
[ $status = 0 ] && echo "docs.sh: the site builds, renders, and stays inside the repository"
exit $status
