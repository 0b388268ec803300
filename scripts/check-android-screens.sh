#!/usr/bin/env bash
# The Android app's screens, rendered to PNG on the JVM and compared with reference images:
#
#   1. resolve: Compose Multiplatform 1.8.2 for the desktop, lifecycle, zxing, JUnit
#      (android/screens/pom.xml) and the Kotlin compiler with the Compose plugin
#      (android/screens/compiler/pom.xml), with Maven, from Maven Central
#   2. compile, with the Compose compiler plugin: android/salon-core (main) and, in place and
#      unchanged, every file of android/app that imports no android.* but android.graphics.Bitmap
#      (the screens, their view models, the pure helpers), with the few desktop shims of
#      android/screens/src/shims (android.graphics.Bitmap, asImageBitmap, BackHandler, media's
#      AudioOut) and the renderer android/screens/src/main
#   3. the screens' view-model tests (android/app/src/test: prejoin/, addfriend/, friends/), JUnit 4
#   4. render every screen in every state (android/screens/src/main/.../Shots.kt) headless, twice
#      (the two must be byte-identical), into target/android-screens/, and compare each with
#      android/screens/reference/<name>.png pixel for pixel; a difference leaves
#      target/android-screens/<name>.png and <name>.diff.png (differences in red) and fails
#
# Usage: scripts/check-android-screens.sh            check (exit 1 on any difference)
#        scripts/check-android-screens.sh --update   accept: write the renders as the references
#                                                    and regenerate android/screens/README.md
#        scripts/check-android-screens.sh --only call-2,prejoin   just these screens
# Env:   SALON_APPS_CACHE   class paths and class files (default <cwd>/target/apps-check)
#        SALON_SCREENS_FONT_DIR  where DejaVuSans.ttf is (default /usr/share/fonts/truetype/dejavu;
#                           installed from Debian's fonts-dejavu-core when missing and run as root)
set -euo pipefail

repo_root="$(cd "$(dirname "$0")/.." && pwd)"
android="$repo_root/android"
screens="$android/screens"
app="$android/app/src/main/kotlin/org/salon/app"
cache="${SALON_APPS_CACHE:-$PWD/target/apps-check}"
mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"
work="$cache/screens"
renders="$repo_root/target/android-screens"
mkdir -p "$work" "$renders"

die() { echo "check-android-screens: $*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

command -v java >/dev/null || die "java not found: install a JDK 17+"
command -v mvn >/dev/null || die "mvn not found: install Maven (Debian: apt-get install maven)"
font_dir="${SALON_SCREENS_FONT_DIR:-/usr/share/fonts/truetype/dejavu}"
if [ ! -f "$font_dir/DejaVuSans.ttf" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "check-android-screens: installing fonts-dejavu-core (the font the screens are drawn in)"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null \
      || die "could not install fonts-dejavu-core"
  fi
  [ -f "$font_dir/DejaVuSans.ttf" ] || die "DejaVuSans.ttf not in $font_dir: install Debian's fonts-dejavu-core"
fi
export SALON_SCREENS_FONT_DIR="$font_dir"

total_start="$(now)"

# --- 1. resolve -------------------------------------------------------------------------------------
t="$(now)"
stamp() { cat "$@" | sha256sum | cut -c1-16; }
# The app's versions, from the one place the Gradle build takes them too, read the way
# scripts/check-android.sh reads them (scripts/android-deps.py).
catalog="$android/gradle/libs.versions.toml"
version_of() { python3 "$repo_root/scripts/android-deps.py" --android "$android" --version "$1" || die "cannot read $catalog"; }
versions=(
  "-Dkotlin.version=$(version_of kotlin)" "-Dcoroutines.version=$(version_of coroutines)"
  "-Djna.version=$(version_of jna)" "-Dzxing.version=$(version_of zxing)" "-Djunit.version=$(version_of junit)"
)
for pom in main:"$screens/pom.xml" compiler:"$screens/compiler/pom.xml"; do
  name="${pom%%:*}"; file="${pom#*:}"
  key="$(stamp "$file" "$catalog")"
  if [ ! -s "$work/$name.cp" ] || [ "$(cat "$work/$name.key" 2>/dev/null)" != "$key" ]; then
    mvn -B -q -ntp -Dstyle.color=never "${versions[@]}" -f "$file" dependency:build-classpath -Dmdep.outputFile="$work/$name.cp" \
      > "$work/mvn-$name.log" 2>&1 || { cat "$work/mvn-$name.log"; die "resolving $file failed (is Maven Central reachable?)"; }
    echo "$key" > "$work/$name.key"
  fi
done
cp_main="$(cat "$work/main.cp")"
cp_compiler="$(cat "$work/compiler.cp")"
compose_plugin="$(tr ':' '\n' < "$work/compiler.cp" | grep kotlin-compose-compiler-plugin-embeddable)"
echo "check-android-screens: resolve: $(elapsed "$t")"

kotlinc() {
  java -Xmx3g -cp "$cp_compiler" org.jetbrains.kotlin.cli.jvm.K2JVMCompiler \
    -no-stdlib -no-reflect -jvm-target 17 -Xplugin="$compose_plugin" "$@"
}

# --- 2. compile ---------------------------------------------------------------------------------------
# The app's files the screens need: every file of android/app that imports nothing of android.*
# (the desktop has none) but android.graphics.Bitmap (shimmed): the screens, their view models and
# the pure helpers those use. MainActivity, the Camera2/AudioRecord/AudioTrack code, the service
# and the permission broker stay out; the one such class a view model uses (media's AudioOut)
# is shimmed in android/screens/src/shims.
app_sources=()
while IFS= read -r f; do
  if ! grep -E '^import android\.' "$f" | grep -qvE '^import android\.graphics\.Bitmap$'; then app_sources+=("$f"); fi
done < <(find "$android/app/src/main/kotlin" -name '*.kt' | sort)
sources=("$android/salon-core/src/main/kotlin" "${app_sources[@]}" "$screens/src/shims/kotlin" "$screens/src/main/kotlin")
for s in "${sources[@]}"; do [ -e "$s" ] || die "missing source $s"; done
key="$( (find "${sources[@]}" -name '*.kt' -print0 | sort -z | xargs -0 sha256sum; echo "$cp_main") | sha256sum | cut -c1-16)"
classes="$work/classes"
t="$(now)"
if [ "$(cat "$work/classes.key" 2>/dev/null)" != "$key" ] || [ ! -d "$classes" ]; then
  rm -rf "$classes"
  kotlinc -module-name salon-screens -classpath "$cp_main" -d "$classes" "${sources[@]}" 2>&1 \
    | grep -v '^warning:' || true
  [ -f "$classes/org/salon/screens/MainKt.class" ] || die "the screens do not compile (see above)"
  echo "$key" > "$work/classes.key"
  echo "check-android-screens: compile: $(find "$classes" -name '*.class' | wc -l | tr -d ' ') classes, $(elapsed "$t")"
else
  echo "check-android-screens: compile: unchanged, $(elapsed "$t")"
fi

# --- 3. view-model tests ---------------------------------------------------------------------------
tests_dir="$android/app/src/test/kotlin/org/salon/app"
test_sources=()
for d in prejoin addfriend friends; do [ -d "$tests_dir/$d" ] && test_sources+=("$tests_dir/$d"); done
test_classes="$work/test-classes"
t="$(now)"
tkey="$( (find "${test_sources[@]}" -name '*.kt' -print0 | sort -z | xargs -0 sha256sum; echo "$key") | sha256sum | cut -c1-16)"
if [ "$(cat "$work/test-classes.key" 2>/dev/null)" != "$tkey" ] || [ ! -d "$test_classes" ]; then
  rm -rf "$test_classes"
  kotlinc -module-name salon-screens-test -Xfriend-paths="$classes" -classpath "$classes:$cp_main" -d "$test_classes" "${test_sources[@]}" 2>&1 \
    | grep -v '^warning:' || true
  [ -d "$test_classes/org/salon/app" ] || die "the view-model tests do not compile (see above)"
  echo "$tkey" > "$work/test-classes.key"
fi
mapfile -t test_names < <(cd "$test_classes" && find . -name '*Test.class' | sed 's|^\./||; s|\.class$||; s|/|.|g' | sort)
[ "${#test_names[@]}" -gt 0 ] || die "no view-model tests found"
set +e
java -Djava.awt.headless=true -cp "$test_classes:$classes:$cp_main" org.junit.runner.JUnitCore "${test_names[@]}" > "$work/tests.log" 2>&1
rc=$?
set -e
summary="$(grep -E '^(OK \(|Tests run:)' "$work/tests.log" | tail -1)"
echo "check-android-screens: view-model tests (${#test_names[@]} classes): ${summary:-no summary}, $(elapsed "$t")"
if [ "$rc" -ne 0 ]; then cat "$work/tests.log"; die "view-model tests failed"; fi

# --- 4. render and compare --------------------------------------------------------------------------
t="$(now)"
set +e
java -Xmx2g -Djava.awt.headless=true -Dskiko.renderApi=SOFTWARE -cp "$classes:$cp_main" org.salon.screens.MainKt \
  --screens "$screens" --out "$renders" "$@"
rc=$?
set -e
echo "check-android-screens: render and compare: $(elapsed "$t")"
echo "check-android-screens: total $(elapsed "$total_start")"
[ "$rc" -eq 0 ] || die "screens differ from android/screens/reference (see above)"
