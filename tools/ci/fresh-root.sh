#!/usr/bin/env bash
# CI: the README's quick start on a freshly bootstrapped Debian, as a new user gets it.
#   bash tools/ci/fresh-root.sh bookworm|trixie     (Debian 12 or 13)
# Builds a minimal root with mmdebstrap (minbase + git, ca-certificates, sudo) from the
# host's Debian mirror, clones this checkout's HEAD into it, mounts /proc, /sys, /dev,
# /dev/pts and /dev/shm, and runs the README's two commands there exactly as written:
#   bash tools/demo.sh
#   bash tools/test.sh
# which install everything else they need with apt. Unmounts and removes the root on exit
# (FRESH_ROOT_KEEP=1 keeps it: its path is printed). Must run as root. Prints the time of
# each phase; ends with ctest's summary (the output of tools/test.sh).
set -euo pipefail
suite=${1:?usage: fresh-root.sh bookworm|trixie}
case "$suite" in
bookworm | trixie) ;;
*)
  echo "fresh-root.sh: unknown suite $suite (bookworm or trixie)" >&2
  exit 2
  ;;
esac
cd "$(dirname "$0")/../.."
repo=$(pwd)
[ "$(id -u)" -eq 0 ] || {
  echo "fresh-root.sh: must run as root (mmdebstrap, mount, chroot)" >&2
  exit 1
}
bash tools/deps.sh mmdebstrap

# The host's mirror (deb822 or one-line format); Debian's own otherwise.
mirror=$(sed -n 's/^URIs: *\(.*\/debian\)\/* *$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
[ -n "$mirror" ] || mirror=$(sed -n 's/^deb  *\(\[[^]]*\]  *\)\{0,1\}\([^ ]*\/debian\)\/* .*/\2/p' /etc/apt/sources.list 2>/dev/null | head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}
security=${mirror%/debian}/debian-security

root=$(mktemp -d "${TMPDIR:-/var/tmp}/tlsengine-$suite.XXXXXX")
mounts=()
cleanup() {
  local status=$? m i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    m=${mounts[$i]}
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "fresh-root.sh: cannot unmount $m" >&2
  done
  if [ "${FRESH_ROOT_KEEP:-0}" = 1 ]; then
    echo "fresh-root.sh: kept $root"
  elif ! grep -q " $root/" /proc/mounts; then # never remove through a live mount
    rm -rf "$root"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

phase_start=$(date +%s)
phase() {
  local now
  now=$(date +%s)
  echo "=== fresh-root $suite: $1 ($((now - phase_start)) s since start)"
}

phase "mmdebstrap $suite from $mirror"
mmdebstrap --quiet --variant=minbase --include=git,ca-certificates,sudo "$suite" "$root" \
  "deb $mirror $suite main" "deb $mirror $suite-updates main" \
  "deb $security $suite-security main"

# What the Debian installer writes and a bare bootstrap lacks: without it "localhost" does
# not resolve (glibc does not synthesize it), and the examples' default host is localhost.
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"

# The checkout's current commit (what CI tests), not the working tree's edits.
phase "clone $(git rev-parse --short HEAD)"
git clone -q --no-local "$repo" "$root/root/tlsengine"
git -C "$root/root/tlsengine" checkout -q -B quick-start "$(git rev-parse HEAD)"

mount_into() { # <mount arguments...> <target inside the root>
  local target=$root${*: -1}
  mkdir -p "$target"
  mount "${@:1:$#-1}" "$target"
  mounts+=("$target")
}
phase "mount /proc /sys /dev /dev/pts /dev/shm"
mount_into -t proc proc /proc
mount_into -t sysfs sysfs /sys
mount_into --bind /dev /dev
mount_into --bind /dev/pts /dev/pts
mount_into --bind /dev/shm /dev/shm

# The README's commands, as written, from the clone's directory: a login shell of root.
in_root() {
  chroot "$root" /usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    bash -c "cd /root/tlsengine && $1"
}
phase "bash tools/demo.sh"
in_root "bash tools/demo.sh"
phase "bash tools/test.sh"
in_root "bash tools/test.sh"
# CI may check more on the same fresh machine afterwards (FRESH_ROOT_AFTER: shell commands
# run from the clone, e.g. the README's other code blocks against the build just made).
if [ -n "${FRESH_ROOT_AFTER:-}" ]; then
  phase "$FRESH_ROOT_AFTER"
  in_root "$FRESH_ROOT_AFTER"
fi
phase "done: $suite passed the README's quick start"
