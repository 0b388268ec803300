#!/usr/bin/env bash
# Builds the iOS Swift package (ios/SalonCore) on Linux against the real core and runs its
# XCTests: the wrapper over libsalon_core.so (with a real salon-server for two of them), and the
# app's logic (the Foundation-only files of ios/SalonApp/SalonApp, compiled in place, with the
# app's XCTests that need no SwiftUI). See ios/README.md, "What is checked on Linux".
#
# Debian bookworm has no Swift; Debian trixie's `swiftlang` (6.0.3) does, so this runs it in a
# trixie chroot (debootstrap --variant=minbase, then apt-get install swiftlang): about 4 minutes
# and 3.5 GB the first time, kept in ${SALON_APPS_CACHE:-target/apps-check}/trixie afterwards.
# The repository is bind-mounted read-only at /src inside; the build goes to the chroot's
# /var/tmp/salon-swift. Every mount lives in a private mount namespace and is undone on exit.
#
# Needs root (debootstrap, chroot, mount). Not root, or no debootstrap to be had: says so and
# exits 2. Environment:
#   SALON_APPS_CACHE        where the chroot is kept (default: target/apps-check)
#   SALON_DEBIAN_MIRROR     default http://deb.debian.org/debian
#   SALON_SKIP_CARGO=1      do not run `cargo build -p salon-core -p salon-server` first
#   SALON_SWIFT_TIMEOUT     seconds for `swift build` and for `swift test` each (default 1800)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${SALON_APPS_CACHE:-$repo/target/apps-check}
mirror=${SALON_DEBIAN_MIRROR:-http://deb.debian.org/debian}
limit=${SALON_SWIFT_TIMEOUT:-1800}
started=$SECONDS

say() { printf '\n\033[1m-- %s\033[0m\n' "$*"; }
fail() { echo "check-ios: $*" >&2; exit 1; }
cannot() { echo "check-ios: cannot check the iOS package here: $*" >&2; exit 2; }
in_list() { local x=$1 y; shift; for y; do [ "$x" = "$y" ] && return 0; done; return 1; }
took() { local s=$(($2)); printf 'check-ios: %-40s %dm%02ds\n' "$1" $((s / 60)) $((s % 60)); }

# --- what can be checked ---------------------------------------------------------------------
[ "$(uname -s)" = Linux ] || cannot "this script is for Linux (on a Mac: cd ios/SalonCore && swift test)"
[ "$(id -u)" = 0 ] || cannot "it needs root (debootstrap, chroot, mount): run it as root"
# The rest runs in a private mount namespace: mounts made in it vanish with it, even if this
# script is killed (the trap below unmounts them anyway, deepest first).
if [ "${SALON_CHECK_IOS_NS:-}" != 1 ]; then
  command -v unshare >/dev/null || cannot "no unshare (util-linux)"
  SALON_CHECK_IOS_NS=1 exec unshare --mount --propagation private -- bash "$0" "$@"
fi

# The app files Package.swift compiles on Linux: each must be there (a clear error here, rather
# than SwiftPM's).
listed() { # $1: the array's name in Package.swift
  sed -n "/^let $1 = \[/,/^\]/p" "$repo/ios/SalonCore/Package.swift" | sed -n 's/^ *"\([^"]*\)",\{0,1\}$/\1/p'
}
mapfile -t app_files < <(listed appFiles)
mapfile -t app_test_files < <(listed appTestFiles)
((${#app_files[@]})) && ((${#app_test_files[@]})) || fail "no appFiles/appTestFiles list found in ios/SalonCore/Package.swift"
missing=()
for f in "${app_files[@]}"; do [ -f "$repo/ios/SalonApp/SalonApp/$f" ] || missing+=("ios/SalonApp/SalonApp/$f"); done
for f in "${app_test_files[@]}"; do [ -f "$repo/ios/SalonApp/SalonAppTests/$f" ] || missing+=("ios/SalonApp/SalonAppTests/$f"); done
for link in ios/SalonCore/Linux/SalonApp/App ios/SalonCore/Linux/SalonAppTests; do
  [ -d "$repo/$link" ] || missing+=("$link (a link into ios/SalonApp)")
done
if ((${#missing[@]})); then
  printf 'check-ios: listed in ios/SalonCore/Package.swift (appFiles / appTestFiles) but missing:\n' >&2
  printf '  %s\n' "${missing[@]}" >&2
  fail "remove them from the list, or restore them"
fi
# A hint, not a failure: app files that import only Foundation/SalonCore but are not checked.
while IFS= read -r -d '' file; do
  rel=${file#"$repo/ios/SalonApp/SalonApp/"}
  imports=$(sed -n 's/^import \([A-Za-z_]*\).*/\1/p' "$file" | grep -vxE 'Foundation|SalonCore' || true)
  if [ -z "$imports" ] && ! in_list "$rel" "${app_files[@]}"; then
    echo "check-ios: note: ios/SalonApp/SalonApp/$rel imports only Foundation/SalonCore but is not in appFiles"
  fi
done < <(find "$repo/ios/SalonApp/SalonApp" -name '*.swift' -print0 | sort -z)
for file in "$repo"/ios/SalonApp/SalonAppTests/*.swift; do
  name=${file##*/}
  in_list "$name" "${app_test_files[@]}" \
    || echo "check-ios: note: ios/SalonApp/SalonAppTests/$name is not in appTestFiles: not run on Linux"
done

# --- the core ----------------------------------------------------------------------------------
cd "$repo"
if [ "${SALON_SKIP_CARGO:-}" != 1 ]; then
  say "cargo build -p salon-core -p salon-server"
  t=$SECONDS
  cargo build -p salon-core -p salon-server --locked
  took "cargo build" "SECONDS - t"
fi
[ -f target/debug/libsalon_core.so ] || fail "no target/debug/libsalon_core.so: run cargo build -p salon-core"

mkdir -p "$cache"
cache=$(cd "$cache" && pwd -P)
root=$(readlink -f "$cache/trixie")

# One run at a time per cache.
exec 9>"$cache/trixie.lock"
if ! flock -n 9; then
  echo "check-ios: another check is using $root; waiting"
  flock 9
fi

mounts_under() { # the mount points at or under $1, deepest first
  findmnt -rn -o TARGET | awk -v r="$1" '$0 == r || index($0, r "/") == 1' | sort -r
}
unmount_all() {
  local m
  while IFS= read -r m; do
    [ -n "$m" ] || continue
    umount "$m" 2>/dev/null || umount -l "$m" || echo "check-ios: could not unmount $m" >&2
  done < <(mounts_under "$root")
}
trap unmount_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the trixie chroot with Swift --------------------------------------------------------------
if [ ! -f "$root/.salon-debootstrap-done" ]; then
  if ! command -v debootstrap >/dev/null; then
    command -v apt-get >/dev/null || cannot "no debootstrap and no apt-get to install it"
    say "apt-get install debootstrap"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; } \
      || cannot "debootstrap could not be installed"
  fi
  if [ -e "$root" ]; then
    # An unfinished chroot: start again, but never delete through a mount.
    unmount_all
    [ -z "$(mounts_under "$root")" ] || fail "$root still has mounts inside; not deleting it"
    echo "check-ios: removing the unfinished chroot $root"
    rm -rf --one-file-system "$root"
  fi
  say "debootstrap --variant=minbase trixie $root"
  t=$SECONDS
  debootstrap --variant=minbase trixie "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log" >&2; unmount_all; fail "debootstrap failed (log: $cache/debootstrap.log)"; }
  unmount_all
  touch "$root/.salon-debootstrap-done"
  took "debootstrap (trixie, minbase)" "SECONDS - t"
fi

mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"  # with /dev/pts and /dev/shm
mkdir -p "$root/src"
mount --bind "$repo" "$root/src"
mount -o remount,bind,ro "$root/src"

in_root() {
  env -i HOME=/root LANG=C.UTF-8 TERM=dumb PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    chroot "$root" "$@"
}

if [ ! -f "$root/.salon-swift-done" ]; then
  say "apt-get install swiftlang (in the chroot)"
  t=$SECONDS
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  # A package's configure step can fail once in a fresh chroot (seen in CI: dpkg exit 1 with
  # nothing else printed): keep apt's output, finish what dpkg left half-configured and try
  # again before giving up, and show the end of the log when it still fails.
  install='apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q swiftlang && apt-get clean'
  if ! in_root bash -c "$install" >"$cache/apt-swiftlang.log" 2>&1; then
    echo "check-ios: apt-get install swiftlang failed once; repairing dpkg and trying again" >&2
    tail -15 "$cache/apt-swiftlang.log" >&2
    in_root bash -c "DEBIAN_FRONTEND=noninteractive dpkg --configure -a; DEBIAN_FRONTEND=noninteractive apt-get install -f -y -q; $install" \
      >>"$cache/apt-swiftlang.log" 2>&1 \
      || { tail -40 "$cache/apt-swiftlang.log" >&2; fail "swiftlang could not be installed in $root (log: $cache/apt-swiftlang.log)"; }
  fi
  touch "$root/.salon-swift-done"
  took "apt-get install swiftlang" "SECONDS - t"
fi
in_root swift --version 2>&1 | sed -n 1p

# --- build and test ----------------------------------------------------------------------------
swiftpm="cd /src/ios/SalonCore && exec swift"
scratch=(--scratch-path /var/tmp/salon-swift)

say "swift build --build-tests (ios/SalonCore, against target/debug/libsalon_core.so)"
t=$SECONDS
set +e
in_root timeout --kill-after=30 "$limit" bash -c "$swiftpm build --build-tests ${scratch[*]}" 2>&1 \
  | grep -v '^\[[0-9]*/[0-9]*\] '
rc=${PIPESTATUS[0]}
set -e
took "swift build" "SECONDS - t"
((rc == 0)) || fail "swift build failed (exit $rc)"

say "swift test --disable-swift-testing"
t=$SECONDS
log=$cache/swift-test.log
set +e
in_root timeout --kill-after=30 "$limit" bash -c "$swiftpm test --skip-build --disable-swift-testing ${scratch[*]}" >"$log" 2>&1
rc=$?
set -e
grep -E "^Test Case '.*' (failed|skipped)|error:|^Test Suite '[^']*' (passed|failed)|Executed [0-9]+ test" "$log" \
  | grep -v "Test Suite 'All tests'" | uniq || true
took "swift test" "SECONDS - t"

# The last summary line counts every test ("Executed 19 tests, with 1 test skipped and 0 failures").
summary=$(grep -E 'Executed [0-9]+ tests?, with' "$log" | tail -1 || true)
ran=$(sed -n 's/.*Executed \([0-9]*\) tests\{0,1\}, with.*/\1/p' <<<"$summary")
failed=$(sed -n 's/.* \([0-9]*\) failures\{0,1\} .*/\1/p' <<<"$summary")
skipped=$(sed -n 's/.* \([0-9]*\) tests\{0,1\} skipped.*/\1/p' <<<"$summary")
echo
echo "check-ios: XCTest: ${ran:-0} run, ${failed:-?} failed, ${skipped:-0} skipped (full log: $log)"
took "in all" "SECONDS - started"
if ((rc != 0)) || [ -z "$ran" ] || ((ran == 0)) || [ "${failed:-1}" != 0 ]; then
  ((rc != 124)) || echo "check-ios: swift test timed out after ${limit}s" >&2
  tail -40 "$log" >&2
  fail "the Swift tests failed (swift test exit $rc)"
fi
