#!/usr/bin/env bash
# Builds the Rust core as a static library for iOS devices, the iOS simulator and macOS, and
# packs them into ios/SalonCore/SalonCoreRust.xcframework for the Swift package. macOS only
# (needs Xcode's xcodebuild and lipo).
#
#   ios/build-xcframework.sh            release build
#   PROFILE=debug ios/build-xcframework.sh
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${PROFILE:-release}
flag=$([ "$profile" = release ] && echo --release || true)
export IPHONEOS_DEPLOYMENT_TARGET=16.0
export MACOSX_DEPLOYMENT_TARGET=13.0

targets=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios aarch64-apple-darwin x86_64-apple-darwin)
rustup target add "${targets[@]}"
for target in "${targets[@]}"; do
  cargo build -p salon-core --locked $flag --target "$target"
done

lib() { echo "target/$1/$profile/libsalon_core.a"; }
out=target/apple
rm -rf "$out"
mkdir -p "$out/ios" "$out/ios-sim" "$out/macos"
cp "$(lib aarch64-apple-ios)" "$out/ios/libsalon_core.a"
lipo -create "$(lib aarch64-apple-ios-sim)" "$(lib x86_64-apple-ios)" -output "$out/ios-sim/libsalon_core.a"
lipo -create "$(lib aarch64-apple-darwin)" "$(lib x86_64-apple-darwin)" -output "$out/macos/libsalon_core.a"

# No -headers: the C module (salon_coreFFI) comes from the package's system-library target, with
# the generated header and module map; a second copy here would define the module twice.
xcframework=ios/SalonCore/SalonCoreRust.xcframework
rm -rf "$xcframework"
xcodebuild -create-xcframework \
  -library "$out/ios/libsalon_core.a" \
  -library "$out/ios-sim/libsalon_core.a" \
  -library "$out/macos/libsalon_core.a" \
  -output "$xcframework"
echo "Built $xcframework"
