#!/usr/bin/env bash
# Runs every Salon test: Rust unit and integration tests (real server, real WebRTC, real SQLite,
# and for cluster mode real Redis), lints, the check that the Kotlin/Swift bindings are current,
# the Kotlin wrapper's tests on the JVM against the real core, and the browser end-to-end tests in
# headless Chromium.
#
# Needs: Rust (rustup), Node.js 18+ with npm, and the system packages below. Run as root, it
# installs missing system packages with apt-get; otherwise it says what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
stage_started=$SECONDS
# Each stage's heading says how long the previous one took.
say() {
  printf '\n\033[1m== %s\033[0m  (previous stage %ss, %ss in all)\n' "$*" \
    "$((SECONDS - stage_started))" "$((SECONDS - started))"
  stage_started=$SECONDS
}

# --- system packages -------------------------------------------------------------------------
# chromium: browser end-to-end tests. nasm: openh264's x86 assembly (3x faster video encoding).
# cmake: builds libopus. maven + a JDK: the Kotlin bindings' tests on the JVM and the Android
# checks. python3: resolves the Android app's dependencies. debootstrap (as root): the chroot
# with Debian trixie's Swift for the iOS checks. fonts-dejavu-core: the Android screens' font.
# redis-server: the cluster-mode tests in the Rust tests stage start Debian's
# /usr/bin/redis-server themselves (no Redis service needs to be running, and none is set up).
# coturn: the TURN tests start Debian's /usr/bin/turnserver themselves, likewise. nftables and
# iproute2 (as root): the browser TURN tests put one Chromium in a network namespace behind a
# firewall. openssl: their TURN/TLS certificate. nginx with its stream module (as root): one of
# them shares port 443 between the page and TURN/TLS by name, as docs/deploy.md shows (started by
# the test with its own configuration; no nginx service is set up).
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v nasm >/dev/null 2>&1 || need+=(nasm)
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v mvn >/dev/null 2>&1 || need+=(maven)
command -v java >/dev/null 2>&1 || need+=(default-jdk-headless)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
# unshare, mount (util-linux) and chattr (e2fsprogs): the storage tests' private mount namespaces.
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
command -v chattr >/dev/null 2>&1 || need+=(e2fsprogs)
command -v python3 >/dev/null 2>&1 || need+=(python3)
[ -x /usr/bin/redis-server ] || need+=(redis-server)
[ -x /usr/bin/turnserver ] || need+=(coturn)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ "$(id -u)" = 0 ]; then
  [ -x /usr/sbin/nft ] || need+=(nftables)
  [ -x /usr/sbin/ip ] || need+=(iproute2)
  [ -x /usr/sbin/nginx ] || need+=(nginx)
  [ -f /usr/lib/nginx/modules/ngx_stream_module.so ] || need+=(libnginx-mod-stream)
fi
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
if [ "$(id -u)" = 0 ]; then command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap); fi
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "Installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "Missing system packages: ${need[*]}" >&2
    echo "Install them first, e.g.: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
fi
for tool in cargo node npm chromium nasm cmake mvn java python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$tool is still missing; install it and run again." >&2; exit 1; }
done
[ -x /usr/bin/redis-server ] || { echo "/usr/bin/redis-server is still missing; install Debian's redis-server and run again." >&2; exit 1; }
[ -x /usr/bin/turnserver ] || { echo "/usr/bin/turnserver is still missing; install Debian's coturn and run again." >&2; exit 1; }

# --- Rust --------------------------------------------------------------------------------------
say "Formatting"
cargo fmt --all --check

say "Lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

say "Rust tests"
cargo test --workspace --locked

say "Load bench smoke run (salon-bench, 10 s: media really forwarded, loss sane, one stalled subscriber, at most 3 voices per receiver, unneeded simulcast layers paused)"
cargo build -p salon-bench -p salon-server --locked
target/debug/salon-bench --server-bin target/debug/salon-server \
  --video 2 --audio 3 --subscribers 2 --stalled 1 --speakers 4 --view-grid 1 --simulcast --duration 10s \
  --check --check-max-loss 0.05 --check-max-audio-streams 3 --check-min-layers-paused 4

say "Load bench smoke run with end-to-end encryption (salon-bench --e2ee, 5 s: frames sealed, forwarded unchanged, every complete frame opens)"
target/debug/salon-bench --server-bin target/debug/salon-server \
  --video 2 --audio 2 --subscribers 1 --speakers 3 --view-grid 1 --simulcast --duration 5s --e2ee \
  --check --check-max-loss 0.05 --check-max-audio-streams 3

say "Background compositing smoke run (salon-bench composite, debug build, 10 frames each of blur and replace: the person kept, the background changed)"
target/debug/salon-bench composite --mask 256x144 --frames 10 --check

say "UniFFI bindings up to date"
scripts/gen-bindings.sh --check

say "Kotlin bindings on the JVM (real core, real server)"
cargo build -p salon-core -p salon-server --locked
(cd android/jvm-tests && mvn -B -ntp test)

# --- Apps --------------------------------------------------------------------------------------
# No Gradle, Android SDK or Xcode here: what can be checked honestly without them (android/README.md
# and ios/README.md, "What is checked here"). Downloads are cached in target/apps-check.
say "Android app: compile check against AndroidX + the Android framework, JVM and Robolectric tests"
scripts/check-android.sh

say "Android screens: every screen rendered (Compose Desktop) and compared with its reference image"
scripts/check-android-screens.sh

say "iOS: the Swift package and the app's logic built and XCTested on Linux (Swift in a Debian trixie chroot)"
if [ "$(id -u)" = 0 ]; then
  SALON_SKIP_CARGO=1 scripts/check-ios.sh
else
  echo "Skipped: building Swift here needs root (a debootstrapped chroot). Run as root to include it." >&2
fi

# --- Browser -----------------------------------------------------------------------------------
say "Browser end-to-end tests"
cargo build -p salon-server -p salon-cli --locked
export SALON_SERVER_BIN="$PWD/target/debug/salon-server"
export SALON_CLI_BIN="$PWD/target/debug/salon-cli"
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error && npm test)

say "All tests passed"
