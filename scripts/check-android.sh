#!/usr/bin/env bash
# What of android/ can be checked without Gradle or an Android SDK:
#
#   1. resolve: the class paths of android/salon-core and android/app (main and tests), from
#      android/gradle/libs.versions.toml and the modules' build.gradle.kts, the Gradle way
#      (scripts/android-deps.py), from Maven Central; AARs unpacked to their classes.jar
#   2. compile android/salon-core (main) with the Kotlin compiler, against android-all (the real
#      Android framework classes, from Robolectric) as android.jar
#   3. compile android/app (main) with the Compose compiler plugin, against the real AndroidX
#      libraries, salon-core's classes and an R class generated from app/src/main/res
#   4. compile android/app/src/test/kotlin and run every test in it with JUnit 4: plain JVM tests
#      and Robolectric tests (the real framework on the JVM)
#
# Usage: scripts/check-android.sh            (from anywhere; caches under target/apps-check)
# Env:   SALON_APPS_CACHE   where downloads, unpacked AARs and class files go
#                           (default <repo>/target/apps-check; reused when present)
#        SALON_APPS_NO_M2=1 do not take artifacts from ~/.m2/repository (to measure a cold run)
#        SALON_MAVEN_REPO   the Maven repository (default Maven Central)
# Robolectric downloads the instrumented framework jar for the SDK a test runs on by itself, into
# ~/.m2/repository, the first time.
set -euo pipefail

repo_root="$(cd "$(dirname "$0")/.." && pwd)"
android="$repo_root/android"
cache="${SALON_APPS_CACHE:-$PWD/target/apps-check}"
mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"
out="$cache/classpaths"
build="$cache/build"

die() { echo "check-android: $*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
count_classes() { find "$1" -name '*.class' | wc -l | tr -d ' '; }
cp_of() { paste -sd: "$out/$1.cp"; }

# --- what this needs ------------------------------------------------------------------------------
command -v java >/dev/null || die "java not found: install a JDK 17+ (Debian: apt-get install openjdk-17-jdk-headless)"
command -v javac >/dev/null || die "javac not found: install a JDK 17+ (not only a JRE)"
java_major="$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ { print $2 }')"
[ "${java_major%%.*}" -ge 17 ] 2>/dev/null || die "java $java_major found; 17 or newer is needed"
command -v python3 >/dev/null || die "python3 not found (3.11+ is needed, for tomllib)"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "python3 $(python3 -V 2>&1) found; 3.11+ is needed (tomllib)"
maven_repo="${SALON_MAVEN_REPO:-https://repo.maven.apache.org/maven2}"

total_start="$(now)"

# --- 1. resolve -------------------------------------------------------------------------------------
t="$(now)"
python3 "$repo_root/scripts/android-deps.py" --android "$android" --cache "$cache" --out "$out" \
  || die "resolving the dependencies failed (see above; is $maven_repo reachable?)"
echo "check-android: resolve: $(elapsed "$t")"

kotlinc_cp="$(cp_of kotlinc)"
compose_plugin="$(cat "$out/compose-plugin.cp")"
android_jar="$(cat "$out/android.cp")"
kotlinc() {
  # -no-stdlib: the stdlib is on each class path at the version the graph selects.
  java -Xmx3g -cp "$kotlinc_cp" org.jetbrains.kotlin.cli.jvm.K2JVMCompiler \
    -no-stdlib -no-reflect -jvm-target 17 -Werror=false "$@"
}
sources_in() { # existing source folders among the arguments
  local d; for d in "$@"; do [ -d "$d" ] && echo "$d"; done; return 0
}

mkdir -p "$build"
# A compile step is skipped when its sources, class path and options are those of the last
# successful run (the key is a hash of them all).
key_of() { # name, then the inputs: files and folders (hashed by content) and words
  local x
  for x in "${@:2}"; do
    if [ -d "$x" ]; then find "$x" -type f -print0 | sort -z | xargs -0 -r sha256sum
    elif [ -f "$x" ]; then sha256sum "$x"
    else echo "$x"; fi
  done | sha256sum | cut -d' ' -f1
}
up_to_date() { [ -d "$build/$1" ] && [ -f "$build/$1.key" ] && [ "$(cat "$build/$1.key")" = "$2" ]; }
fresh() { rm -rf "$build/$1" "$build/$1.key"; }
done_with() { echo "$2" > "$build/$1.key"; }

# --- 2. salon-core ----------------------------------------------------------------------------------
t="$(now)"
core_classes="$build/salon-core"
mapfile -t core_src < <(sources_in "$android/salon-core/src/main/kotlin" "$android/salon-core/src/main/java")
core_cp="$android_jar:$(cp_of salon-core.compile)"
key="$(key_of salon-core "${core_src[@]}" "$core_cp" "$kotlinc_cp")"
if up_to_date salon-core "$key"; then
  note="unchanged since the last run"
else
  fresh salon-core
  kotlinc -module-name salon-core -classpath "$core_cp" -d "$core_classes" "${core_src[@]}" \
    || die "android/salon-core does not compile"
  done_with salon-core "$key"; note="compiled"
fi
echo "check-android: compile salon-core: $(count_classes "$core_classes") classes ($note), $(elapsed "$t")"

# --- 3. app -----------------------------------------------------------------------------------------
t="$(now)"
# R for the app's own resources, as AGP generates it (non-final ids). Library R classes are not
# generated: nothing here renders Compose on Robolectric (see android/README.md).
r_classes="$build/app-r"
rm -rf "$r_classes" "$build/app-r-src"
python3 "$repo_root/scripts/android-deps.py" --gen-r "$android/app/src/main/res" \
  --namespace "$(sed -n 's/^ *namespace *= *"\(.*\)".*/\1/p' "$android/app/build.gradle.kts")" \
  --out "$build/app-r-src"
javac -d "$r_classes" --release 17 -nowarn $(find "$build/app-r-src" -name '*.java') || die "the generated R does not compile"
app_classes="$build/app"
mapfile -t app_src < <(sources_in "$android/app/src/main/kotlin" "$android/app/src/main/java")
app_cp="$android_jar:$(cp_of app.compile):$core_classes:$r_classes"
key="$(key_of app "${app_src[@]}" "$build/app-r-src" "$app_cp" "$kotlinc_cp" "$compose_plugin" "$(cat "$build/salon-core.key")")"
if up_to_date app "$key"; then
  note="unchanged since the last run"
else
  fresh app
  kotlinc -module-name app -Xplugin="$compose_plugin" -classpath "$app_cp" -d "$app_classes" "${app_src[@]}" \
    || die "android/app does not compile"
  done_with app "$key"; note="compiled"
fi
echo "check-android: compile app: $(count_classes "$app_classes") classes + R ($note), $(elapsed "$t")"

# --- 4. app tests -----------------------------------------------------------------------------------
test_src_dir="$android/app/src/test/kotlin"
[ -d "$test_src_dir" ] || die "no tests in $test_src_dir"
t="$(now)"
test_classes="$build/app-test"
test_cp="$android_jar:$(cp_of app.test.compile):$app_classes:$core_classes:$r_classes"
key="$(key_of app-test "$test_src_dir" "$test_cp" "$kotlinc_cp" "$compose_plugin" "$(cat "$build/app.key")")"
if up_to_date app-test "$key"; then
  note="unchanged since the last run"
else
  fresh app-test
  kotlinc -module-name app_test -Xplugin="$compose_plugin" -Xfriend-paths="$app_classes" \
    -classpath "$test_cp" -d "$test_classes" "$test_src_dir" \
    || die "android/app tests do not compile"
  done_with app-test "$key"; note="compiled"
fi
echo "check-android: compile app tests: $(count_classes "$test_classes") classes ($note), $(elapsed "$t")"

# Every class with a JUnit 4 @Test method (what Gradle's test task runs), abstract ones left out.
mapfile -t test_names < <(python3 "$repo_root/scripts/android-deps.py" --find-tests "$test_classes")
[ "${#test_names[@]}" -gt 0 ] || die "no test classes found in $test_src_dir"

t="$(now)"
resources=""
for d in "$android/app/src/main/resources" "$android/app/src/test/resources"; do
  [ -d "$d" ] && resources="$resources:$d"
done
# android-all comes last: Robolectric tests get the framework from Robolectric's own sandbox;
# plain tests see the real classes too (under Gradle they would get android.jar's stubs, which
# throw "not mocked", so a plain test that needs the framework belongs on Robolectric).
run_cp="$test_classes:$app_classes:$core_classes:$r_classes$resources:$(cp_of app.test.runtime):$android_jar"
log="$build/tests.log"
set +e
java -Xmx2g -cp "$run_cp" \
  -Drobolectric.dependency.repo.url="$maven_repo" -Drobolectric.dependency.repo.id=salon-check \
  org.junit.runner.JUnitCore "${test_names[@]}" 2>&1 | tee "$log"
rc="${PIPESTATUS[0]}"
set -e
summary="$(grep -E '^(OK \(|Tests run:)' "$log" | tail -1)"
if [[ "$summary" =~ ^OK\ \(([0-9]+)\ test ]]; then
  run="${BASH_REMATCH[1]}"; failed=0
elif [[ "$summary" =~ Tests\ run:\ ([0-9]+),\ +Failures:\ ([0-9]+) ]]; then
  run="${BASH_REMATCH[1]}"; failed="${BASH_REMATCH[2]}"
else
  die "the test run ended without a JUnit summary (exit $rc; log: $log)"
fi
echo "check-android: run tests: ${#test_names[@]} classes, $(elapsed "$t")"
echo "check-android: total $(elapsed "$total_start")"
echo "android app tests: $((run - failed)) passed, $failed failed"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ] || die "$failed of $run tests failed"
[ "$run" -gt 0 ] || die "no test ran"
