#!/usr/bin/env bash
# Regenerates the Kotlin and Swift bindings of salon-core with the workspace's own
# uniffi-bindgen (same UniFFI version as the core).
#   scripts/gen-bindings.sh           write them into android/ and ios/
#   scripts/gen-bindings.sh --check   fail if the checked-in bindings are out of date
set -euo pipefail
cd "$(dirname "$0")/.."

KOTLIN_OUT=android/salon-core/src/main/kotlin
# Only the generated package: the hand-written wrapper lives beside it in org/salon/core.
KOTLIN_PKG=org/salon/core/ffi
SWIFT_OUT=ios/SalonCore/Sources/SalonCoreFFI
SWIFT_HEADERS=ios/SalonCore/Sources/salon_coreFFI

cargo build -p salon-core -p uniffi-bindgen --locked --quiet
lib=target/debug/libsalon_core.so
[ -f "$lib" ] || lib=target/debug/libsalon_core.dylib

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
target/debug/uniffi-bindgen generate --library "$lib" \
  --language kotlin --out-dir "$tmp/kotlin" --no-format >/dev/null
target/debug/uniffi-bindgen generate --library "$lib" \
  --language swift --out-dir "$tmp/swift" --no-format >/dev/null

# Swift: the Swift source goes in the SalonCoreFFI target; the C header and module map in the
# system-library target that links the static library.
mkdir -p "$tmp/swift-src" "$tmp/swift-headers"
mv "$tmp"/swift/*.swift "$tmp/swift-src/"
mv "$tmp"/swift/*.h "$tmp/swift-headers/"
cp "$tmp"/swift/*.modulemap "$tmp/swift-headers/module.modulemap"

if [ "${1:-}" = "--check" ]; then
  status=0
  diff -r "$tmp/kotlin/$KOTLIN_PKG" "$KOTLIN_OUT/$KOTLIN_PKG" >/dev/null || { echo "Kotlin bindings are out of date: run scripts/gen-bindings.sh" >&2; status=1; }
  diff -r "$tmp/swift-src" "$SWIFT_OUT" >/dev/null || { echo "Swift bindings are out of date: run scripts/gen-bindings.sh" >&2; status=1; }
  diff -r "$tmp/swift-headers" "$SWIFT_HEADERS" >/dev/null || { echo "Swift headers are out of date: run scripts/gen-bindings.sh" >&2; status=1; }
  [ $status = 0 ] && echo "Bindings are up to date."
  exit $status
fi

rm -rf "${KOTLIN_OUT:?}/$KOTLIN_PKG" "$SWIFT_OUT" "$SWIFT_HEADERS"
mkdir -p "$(dirname "$KOTLIN_OUT/$KOTLIN_PKG")" "$(dirname "$SWIFT_OUT")"
cp -r "$tmp/kotlin/$KOTLIN_PKG" "$KOTLIN_OUT/$KOTLIN_PKG"
cp -r "$tmp/swift-src" "$SWIFT_OUT"
cp -r "$tmp/swift-headers" "$SWIFT_HEADERS"
echo "Bindings written to $KOTLIN_OUT/$KOTLIN_PKG, $SWIFT_OUT and $SWIFT_HEADERS."
