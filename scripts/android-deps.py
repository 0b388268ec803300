#!/usr/bin/env python3
"""Resolve the Android app's class paths the way Gradle does, without Gradle.

Used by scripts/check-android.sh. Reads the versions from android/gradle/libs.versions.toml (and
the Compose BOM named there, from its POM) and the dependency lists from the `dependencies { }`
blocks of android/app/build.gradle.kts and android/salon-core/build.gradle.kts, so that this check
and `./gradlew test` use the same artifacts. Nothing here names a version of the project's own
dependencies.

Why not Maven: AndroidX POMs use strict ranges (`[2.8.7]`) that Maven's conflict resolution
refuses, and most of the graph is `.aar` packaging, whose classes sit in a `classes.jar` inside.
So this walks the POMs itself:

- highest version of each group:artifact wins (Gradle's rule), recomputed until the selection is
  stable, so edges of versions that lost do not count;
- `compile` and `runtime` scopes are followed, `optional`, `test` and `provided` are not; a POM's
  parent chain gives properties and dependencyManagement, `import` BOMs included; exclusions are
  honoured along the path;
- a Kotlin Multiplatform root (its Gradle module metadata has `available-at` for the JVM or
  Android variant) is redirected to that variant, as Gradle does;
- the compile class path of a module holds its direct dependencies and what they expose with
  `compile` scope (Gradle's `api`), the runtime class path everything; versions come from the
  runtime graph for both (AGP aligns them the same way);
- AARs are unpacked: their `classes.jar` (and `libs/*.jar`) go on the class path.

Downloads go to <cache>/m2 in the Maven layout (a file already in ~/.m2/repository is used from
there unless SALON_APPS_NO_M2=1). Prints nothing on stdout; writes <out>/<name>.cp files (one jar
per line) and <out>/resolve.txt (the selected modules).
"""
import argparse
import json
import os
import re
import shutil
import sys
import tomllib
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
import zipfile
from collections import defaultdict

REPO = os.environ.get("SALON_MAVEN_REPO", "https://repo.maven.apache.org/maven2")
NS = "{http://maven.apache.org/POM/4.0.0}"

# compileSdk -> the Robolectric build of the Android framework classes used as android.jar.
ANDROID_ALL = {35: "15-robolectric-12650502"}

# Modules this mirror lacks at the version Gradle would pick: the highest version below it that is
# served is taken instead, with a note. Only these, never silently for anything else.
# (Robolectric 4.18 asks for nativeruntime-dist-compat 1.0.20; 1.0.19 is the newest served here.)
FALLBACK_OK = {("org.robolectric", "nativeruntime-dist-compat")}

# Robolectric's runner needs these AARs' classes (see robolectric's POM); they are plain deps of it.


class Repo:
    def __init__(self, cache):
        self.root = os.path.join(cache, "m2")
        self.home_m2 = None if os.environ.get("SALON_APPS_NO_M2") == "1" else os.path.expanduser("~/.m2/repository")
        self.downloaded = 0
        self.downloaded_bytes = 0

    def get(self, rel):
        """Local path of a repository file, downloading it once; None if the repository lacks it."""
        local = os.path.join(self.root, rel)
        if os.path.exists(local):
            return local
        if self.home_m2 and os.path.exists(os.path.join(self.home_m2, rel)):
            return os.path.join(self.home_m2, rel)
        if os.path.exists(local + ".missing"):
            return None
        os.makedirs(os.path.dirname(local), exist_ok=True)
        try:
            with urllib.request.urlopen(f"{REPO}/{rel}", timeout=120) as r, open(local + ".part", "wb") as f:
                shutil.copyfileobj(r, f, 1 << 20)
        except urllib.error.HTTPError as e:
            if e.code == 404:
                open(local + ".missing", "w").close()
                return None
            raise SystemExit(f"android-deps: {REPO}/{rel}: HTTP {e.code}")
        except (urllib.error.URLError, OSError) as e:
            raise SystemExit(f"android-deps: cannot download {REPO}/{rel}: {e} (no network?)")
        os.replace(local + ".part", local)
        self.downloaded += 1
        self.downloaded_bytes += os.path.getsize(local)
        return local


def gpath(g, a, v, ext):
    return f"{g.replace('.', '/')}/{a}/{v}/{a}-{v}.{ext}"


def vkey(v):
    out = []
    for p in re.split(r"[.\-]", v):
        out.append((1, int(p), "") if p.isdigit() else (0, 0, p))
    return out


def clean_version(v):
    v = v.strip()
    if v[:1] in "[(":
        lo, _, hi = v.strip("[]()").partition(",")
        v = lo.strip() or hi.strip()
    return v


def interpolate(s, props):
    if s is None:
        return None
    for _ in range(5):
        n = re.sub(r"\$\{([^}]+)\}", lambda m: props.get(m.group(1), m.group(0)), s)
        if n == s:
            break
        s = n
    return s


class Pom:
    """The parts of an effective POM we need."""

    def __init__(self, packaging, deps, managed, props):
        self.packaging, self.deps, self.managed, self.props = packaging, deps, managed, props


class Resolver:
    def __init__(self, repo):
        self.repo = repo
        self.poms = {}
        self.modules = {}

    def pom(self, g, a, v):
        key = (g, a, v)
        if key in self.poms:
            return self.poms[key]
        f = self.repo.get(gpath(g, a, v, "pom"))
        if f is None:
            self.poms[key] = None
            return None
        root = ET.parse(f).getroot()
        t = lambda e, n: (e.findtext(NS + n) or "").strip() or None
        props, managed = {}, {}
        parent = root.find(NS + "parent")
        if parent is not None:
            pp = self.pom(t(parent, "groupId"), t(parent, "artifactId"), t(parent, "version"))
            if pp is not None:
                props.update(pp.props)
                managed.update(pp.managed)
            props["project.parent.version"] = t(parent, "version")
        gid = t(root, "groupId") or (t(parent, "groupId") if parent is not None else g)
        ver = t(root, "version") or (t(parent, "version") if parent is not None else v)
        props.update({"project.groupId": gid, "project.version": ver, "pom.version": ver,
                      "project.artifactId": a, "version": ver, "groupId": gid})
        pe = root.find(NS + "properties")
        for e in (pe if pe is not None else []):
            props[e.tag.replace(NS, "")] = (e.text or "").strip()
        for d in root.findall(f"{NS}dependencyManagement/{NS}dependencies/{NS}dependency"):
            dg, da = interpolate(t(d, "groupId"), props), interpolate(t(d, "artifactId"), props)
            dv = interpolate(t(d, "version"), props)
            if t(d, "scope") == "import" and t(d, "type") == "pom":
                bom = self.pom(dg, da, clean_version(dv))
                if bom is not None:
                    for k, val in bom.managed.items():
                        managed.setdefault(k, val)
            elif dv:
                managed[(dg, da)] = clean_version(dv)
        deps = []
        for d in root.findall(f"{NS}dependencies/{NS}dependency"):
            scope = t(d, "scope") or "compile"
            if scope not in ("compile", "runtime") or t(d, "optional") == "true":
                continue
            dg, da = interpolate(t(d, "groupId"), props), interpolate(t(d, "artifactId"), props)
            dv = interpolate(t(d, "version"), props) or managed.get((dg, da))
            if not dv or "${" in dv:
                print(f"android-deps: note: {g}:{a}:{v} gives no version for {dg}:{da}, skipped", file=sys.stderr)
                continue
            if t(d, "classifier"):
                continue  # natives and the like: not on a JVM class path here
            excl = frozenset(f"{interpolate(t(x, 'groupId'), props)}:{interpolate(t(x, 'artifactId'), props)}"
                             for x in d.findall(f"{NS}exclusions/{NS}exclusion"))
            deps.append((dg, da, clean_version(dv), scope, excl))
        p = Pom(t(root, "packaging") or "jar", deps, managed, props)
        self.poms[key] = p
        return p

    def module(self, g, a, v):
        """(packaging, [(g, a, v, scope, exclusions)]) of one module version, or None if not served.
        Follows a Kotlin Multiplatform root's `available-at` to its Android or JVM variant."""
        key = (g, a, v)
        if key in self.modules:
            return self.modules[key]
        result = None
        p = self.pom(g, a, v)
        if p is not None:
            result = (p.packaging, p.deps, [])
            mf = self.repo.get(gpath(g, a, v, "module"))
            if mf is not None:
                variants = json.load(open(mf)).get("variants", [])
                attr = lambda x, k: x.get("attributes", {}).get(k)
                for platform in ("androidJvm", "jvm"):
                    hit = [x for x in variants
                           if attr(x, "org.jetbrains.kotlin.platform.type") == platform and "available-at" in x]
                    if hit:
                        at = hit[0]["available-at"]
                        if (at["group"], at["module"]) != (g, a):
                            result = ("pom", [(at["group"], at["module"], at["version"], "compile", frozenset())], [])
                        break
                else:
                    # Gradle reads the module metadata, whose constraints (AndroidX's atomic groups:
                    # ui 1.7.6 lifts ui-graphics to 1.7.6) a POM does not carry.
                    runtime = [x for x in variants if attr(x, "org.gradle.usage") == "java-runtime"
                               and attr(x, "org.gradle.category") in (None, "library")
                               and attr(x, "org.jetbrains.kotlin.platform.type") in (None, "androidJvm", "jvm")]
                    cons = []
                    for x in runtime[:1]:
                        for c in x.get("dependencyConstraints", []):
                            ver = c.get("version", {})
                            cv = ver.get("strictly") or ver.get("requires")
                            if cv:
                                cons.append((c["group"], c["module"], clean_version(cv)))
                    result = (result[0], result[1], cons)
        self.modules[key] = result
        return result

    def fallback_version(self, g, a, v):
        f = self.repo.get(f"{g.replace('.', '/')}/{a}/maven-metadata.xml")
        if f is None:
            return None
        served = [e.text for e in ET.parse(f).getroot().iter("version")]
        lower = sorted((x for x in served if vkey(x) < vkey(v) and self.pom(g, a, x) is not None), key=vkey)
        return lower[-1] if lower else None

    def resolve(self, roots, platform=None):
        """roots: [(g, a, v)]; platform: {(g, a): v} constraints of BOMs declared with platform().
        Returns {(g, a): version} and the edges of the selected versions."""
        selected = {}
        substituted = {}
        for _ in range(30):
            requests = defaultdict(list)
            constraints = defaultdict(list)
            for k, v in (platform or {}).items():
                constraints[k].append(v)
            excluded = {}      # (g, a) -> exclusions common to every path that reached it
            edges = {}
            work = [(g, a, v, frozenset()) for g, a, v in roots]
            while work:
                g, a, v, excl = work.pop()
                requests[(g, a)].append(v)
                prev = excluded.get((g, a))
                now = excl if prev is None else (prev & excl)
                if prev is not None and now == prev:
                    continue
                excluded[(g, a)] = now
                ver = selected.get((g, a), v)
                ver = substituted.get((g, a, ver), ver)
                m = self.module(g, a, ver)
                if m is None and (g, a) in FALLBACK_OK:
                    fb = self.fallback_version(g, a, ver)
                    if fb:
                        print(f"android-deps: note: {g}:{a}:{ver} is not served; using {fb}", file=sys.stderr)
                        substituted[(g, a, ver)] = fb
                        m = self.module(g, a, fb)
                if m is None:
                    edges[(g, a)] = None
                    continue
                edges[(g, a)] = m[1]
                for cg, ca, cv in m[2]:
                    constraints[(cg, ca)].append(cv)
                if "*:*" in now:
                    continue
                for dg, da, dv, scope, dex in m[1]:
                    if f"{dg}:{da}" in now or f"{dg}:*" in now:
                        continue
                    work.append((dg, da, dv, now | dex))
            new = {k: max(vs + constraints.get(k, []), key=vkey) for k, vs in requests.items()}
            if new == selected:
                break
            selected = new
        else:
            raise SystemExit("android-deps: the version selection did not settle")
        final = {k: substituted.get((k[0], k[1], v), v) for k, v in selected.items()}
        missing = [f"{g}:{a}:{final[(g, a)]}" for (g, a), e in edges.items() if e is None]
        return final, edges, excluded, missing


def classpath(res, repo, selected, edges, excluded, direct, compile_only, jars_dir):
    """Jars of the modules reached from `direct` (following only `compile`-scope edges past the
    first level when compile_only), AARs unpacked into jars_dir."""
    seen, order = set(), []
    work = [(g, a, True) for g, a in direct]
    while work:
        g, a, first = work.pop(0)
        if (g, a) in seen or (g, a) not in selected:
            continue
        seen.add((g, a))
        order.append((g, a))
        ex = excluded.get((g, a), frozenset())
        if "*:*" in ex:
            continue
        for dg, da, _dv, scope, _ in edges.get((g, a)) or []:
            if compile_only and scope != "compile":
                continue
            if f"{dg}:{da}" in ex or f"{dg}:*" in ex:
                continue
            work.append((dg, da, False))
    jars = []
    for g, a in sorted(order):
        v = selected[(g, a)]
        m = res.module(g, a, v)
        if m is None or m[0] == "pom":
            continue
        exts = ["aar", "jar"] if m[0] == "aar" else ["jar", "aar"]
        for ext in exts:
            f = repo.get(gpath(g, a, v, ext))
            if f is not None:
                break
        else:
            raise SystemExit(f"android-deps: {g}:{a}:{v}: neither .jar nor .aar is served")
        if ext == "jar":
            jars.append(f)
            continue
        dest = os.path.join(jars_dir, f"{g}_{a}-{v}")
        if not os.path.exists(dest + ".done"):
            os.makedirs(dest, exist_ok=True)
            with zipfile.ZipFile(f) as z:
                for n in z.namelist():
                    if n == "classes.jar" or (n.startswith("libs/") and n.endswith(".jar")):
                        z.extract(n, dest)
            open(dest + ".done", "w").close()
        for n in ["classes.jar"] + sorted(os.listdir(os.path.join(dest, "libs")) if os.path.isdir(os.path.join(dest, "libs")) else []):
            p = os.path.join(dest, n) if n == "classes.jar" else os.path.join(dest, "libs", n)
            if os.path.exists(p):
                jars.append(p)
    return jars


# --- Gradle files -------------------------------------------------------------------------------

def read_catalog(path):
    cat = tomllib.load(open(path, "rb"))
    versions = cat.get("versions", {})
    libs = {}
    for alias, spec in cat.get("libraries", {}).items():
        if isinstance(spec, str):
            g, a, v = spec.split(":")
        else:
            g, a = spec["module"].split(":") if "module" in spec else (spec["group"], spec["name"])
            ver = spec.get("version")
            if isinstance(ver, dict):
                v = versions[ver["ref"]]
            elif isinstance(ver, str):
                v = ver
            else:
                v = versions[spec["version.ref"]] if "version.ref" in spec else None
        libs[re.sub(r"[-_]", ".", alias)] = (g, a, v)
    return versions, libs


CONFIGS = {"implementation", "api", "compileOnly", "runtimeOnly", "debugImplementation",
           "testImplementation", "testRuntimeOnly", "testCompileOnly"}


def read_build(path, versions, libs):
    """[(configuration, kind, value)] from the `dependencies { }` block: kind is lib (g, a, v),
    platform (g, a, v), project (":name") or artifact (g, a, v, ext)."""
    text = open(path).read()
    m = re.search(r"^dependencies\s*\{(.*?)^\}", text, re.S | re.M)
    if not m:
        return []
    out = []
    for line in m.group(1).splitlines():
        line = line.split("//")[0].strip()
        if not line:
            continue
        cm = re.match(r"(\w+)\((.*)\)$", line)
        if not cm or cm.group(1) not in CONFIGS:
            raise SystemExit(f"android-deps: {path}: cannot read dependency line: {line}")
        conf, arg = cm.group(1), cm.group(2).strip()
        if mm := re.fullmatch(r"platform\(libs\.([\w.]+)\)", arg):
            out.append((conf, "platform", libs[mm.group(1)]))
        elif mm := re.fullmatch(r"project\(\"(:[\w-]+)\"\)", arg):
            out.append((conf, "project", mm.group(1)))
        elif mm := re.fullmatch(r"libs\.([\w.]+)", arg):
            if mm.group(1) not in libs:
                raise SystemExit(f"android-deps: {path}: libs.{mm.group(1)} is not in libs.versions.toml")
            out.append((conf, "lib", libs[mm.group(1)]))
        elif mm := re.fullmatch(r"\"([^\"]+)\"", arg):
            s = re.sub(r"\$\{libs\.versions\.([\w.]+)\.get\(\)\}",
                       lambda x: versions[next(k for k in versions if re.sub(r"[-_]", ".", k) == x.group(1))], mm.group(1))
            s, _, ext = s.partition("@")
            g, a, v = s.split(":")
            out.append((conf, "artifact", (g, a, v, ext or "jar")))
        else:
            raise SystemExit(f"android-deps: {path}: cannot read dependency: {arg}")
    return out


# --- helpers for check-android.sh -----------------------------------------------------------------

def gen_r(res_dir, namespace, out):
    """Writes <out>/<namespace path>/R.java for the resources in res_dir, as AGP does for an app
    (ids not final). Only the app's own resources: library R classes are not made here."""
    names = defaultdict(set)
    value_types = {"string", "color", "dimen", "bool", "integer", "style", "plurals", "array",
                   "attr", "fraction", "drawable"}
    if os.path.isdir(res_dir):
        for sub in sorted(os.listdir(res_dir)):
            kind = sub.split("-")[0]
            folder = os.path.join(res_dir, sub)
            for fn in sorted(os.listdir(folder)):
                path = os.path.join(folder, fn)
                if kind == "values":
                    for e in ET.parse(path).getroot():
                        tag = e.tag
                        if tag in ("string-array", "integer-array"):
                            tag = "array"
                        if tag == "item":
                            tag = e.get("type")
                        if tag == "declare-styleable":
                            print(f"check-android: note: styleable {e.get('name')} is not in the generated R", file=sys.stderr)
                            continue
                        if tag in value_types | {"id"} and e.get("name"):
                            names[tag].add(e.get("name"))
                else:
                    names[kind].add(fn.split(".")[0])
                    if fn.endswith(".xml"):
                        for m in re.finditer(r"@\+id/(\w+)", open(path, encoding="utf-8").read()):
                            names["id"].add(m.group(1))
    lines = [f"package {namespace};", "", "public final class R {", "    private R() {}"]
    next_type = 1
    for kind in sorted(names):
        lines.append(f"    public static final class {kind} {{")
        for i, n in enumerate(sorted(names[kind])):
            lines.append(f"        public static int {n.replace('.', '_')} = 0x7f{next_type:02x}{i:04x};")
        lines.append("    }")
        next_type += 1
    lines.append("}")
    dest = os.path.join(out, *namespace.split("."))
    os.makedirs(dest, exist_ok=True)
    with open(os.path.join(dest, "R.java"), "w") as f:
        f.write("\n".join(lines) + "\n")


def find_tests(classes_dir):
    """Names of the concrete classes under classes_dir that have a JUnit 4 @Test method."""
    found = []
    for dirpath, _, files in os.walk(classes_dir):
        for fn in files:
            if not fn.endswith(".class"):
                continue
            data = open(os.path.join(dirpath, fn), "rb").read()
            if b"Lorg/junit/Test;" not in data:
                continue
            # Skip the constant pool to read the access flags.
            i, n = 10, int.from_bytes(data[8:10], "big")
            k = 1
            while k < n:
                tag = data[i]
                if tag == 1:
                    i += 3 + int.from_bytes(data[i + 1:i + 3], "big")
                elif tag in (5, 6):
                    i += 9; k += 1
                elif tag in (7, 8, 16, 19, 20):
                    i += 3
                elif tag == 15:
                    i += 4
                else:
                    i += 5
                k += 1
            flags = int.from_bytes(data[i:i + 2], "big")
            if flags & 0x0600:  # interface or abstract
                continue
            rel = os.path.relpath(os.path.join(dirpath, fn), classes_dir)
            found.append(rel[:-len(".class")].replace(os.sep, "."))
    for name in sorted(found):
        print(name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--android", help="the android/ folder")
    ap.add_argument("--cache")
    ap.add_argument("--out")
    ap.add_argument("--gen-r", metavar="RES_DIR", help="only write R.java for RES_DIR into --out")
    ap.add_argument("--namespace")
    ap.add_argument("--find-tests", metavar="CLASSES_DIR", help="only list the JUnit 4 test classes")
    ap.add_argument("--version", metavar="NAME", help="only print NAME's version from the catalog")
    args = ap.parse_args()
    if args.version:
        if not args.android:
            ap.error("--version needs --android")
        versions, _ = read_catalog(os.path.join(args.android, "gradle/libs.versions.toml"))
        if args.version not in versions:
            raise SystemExit(f"android-deps: no version '{args.version}' in gradle/libs.versions.toml")
        print(versions[args.version])
        return None
    if args.gen_r:
        return gen_r(args.gen_r, args.namespace, args.out)
    if args.find_tests:
        return find_tests(args.find_tests)
    if not (args.android and args.cache and args.out):
        ap.error("--android, --cache and --out are needed")
    repo = Repo(args.cache)
    res = Resolver(repo)
    versions, libs = read_catalog(os.path.join(args.android, "gradle/libs.versions.toml"))
    kotlin = versions["kotlin"]

    builds = {name: read_build(os.path.join(args.android, name, "build.gradle.kts"), versions, libs)
              for name in ("salon-core", "app")}
    sdk = int(re.search(r"compileSdk\s*=\s*(\d+)", open(os.path.join(args.android, "app/build.gradle.kts")).read()).group(1))
    if sdk not in ANDROID_ALL:
        raise SystemExit(f"android-deps: no android-all known for compileSdk {sdk}: add it to ANDROID_ALL")

    # Versionless libraries take their version from the platforms (BOMs) declared with them.
    managed = {}
    for deps in builds.values():
        for conf, kind, val in deps:
            if kind == "platform":
                bom = res.pom(*val)
                if bom is None:
                    raise SystemExit(f"android-deps: BOM {':'.join(val)} is not served")
                managed.update(bom.managed)

    def coords(kind, val):
        g, a, v = val[:3]
        v = v or managed.get((g, a))
        if not v:
            raise SystemExit(f"android-deps: no version for {g}:{a} (not in the catalog nor a BOM)")
        return g, a, v

    # Per module: configuration -> [(g, a, v)], with project dependencies expanded to what
    # Gradle passes on (api to compile; api + implementation + runtimeOnly to runtime).
    stdlib = ("org.jetbrains.kotlin", "kotlin-stdlib", kotlin)  # what the Kotlin plugin adds
    def conf_deps(name, confs):
        out = []
        for conf, kind, val in builds[name]:
            if conf not in confs or kind == "platform":
                continue
            if kind == "project":
                continue
            out.append(coords(kind, val))
        return out

    def project_deps(name, confs):
        return [val for conf, kind, val in builds[name] if kind == "project" and conf in confs]

    main_confs = {"implementation", "api", "compileOnly", "debugImplementation"}
    runtime_confs = {"implementation", "api", "runtimeOnly", "debugImplementation"}
    test_confs = {"testImplementation", "testCompileOnly"}
    test_runtime_confs = {"testImplementation", "testRuntimeOnly"}

    def closure(name, confs, api_only_projects):
        out = [stdlib] + conf_deps(name, confs)
        for p in project_deps(name, confs):
            sub = p.lstrip(":")
            out += closure(sub, {"api"} if api_only_projects else runtime_confs, api_only_projects)
        return out

    sets = {
        "salon-core.compile": (closure("salon-core", main_confs, True), True),
        "app.compile": (closure("app", main_confs, True), True),
        "app.test.compile": (closure("app", main_confs | test_confs, True), True),
        "app.test.runtime": (closure("app", runtime_confs | test_runtime_confs, False), False),
    }
    # One resolution for everything the app's tests run with (AGP aligns compile and runtime).
    all_roots = sorted({c for roots, _ in sets.values() for c in roots})
    selected, edges, excluded, missing = res.resolve(all_roots, managed)
    if missing:
        raise SystemExit("android-deps: not served: " + ", ".join(sorted(missing)))

    # The tools: the compiler and the Compose compiler plugin at the catalog's Kotlin version,
    # and the framework classes.
    tool_roots = [("org.jetbrains.kotlin", "kotlin-compiler-embeddable", kotlin)]
    tsel, tedges, texcl, tmissing = res.resolve(tool_roots)
    if tmissing:
        raise SystemExit("android-deps: not served: " + ", ".join(sorted(tmissing)))

    os.makedirs(args.out, exist_ok=True)
    jars_dir = os.path.join(args.cache, "aar-classes")

    def write(name, jars):
        with open(os.path.join(args.out, name + ".cp"), "w") as f:
            f.write("".join(j + "\n" for j in jars))

    for name, (roots, compile_only) in sets.items():
        write(name, classpath(res, repo, selected, edges, excluded, [(g, a) for g, a, _ in roots], compile_only, jars_dir))
    write("kotlinc", classpath(res, repo, tsel, tedges, texcl, [(g, a) for g, a, _ in tool_roots], False, jars_dir))
    plugin = repo.get(gpath("org.jetbrains.kotlin", "kotlin-compose-compiler-plugin-embeddable", kotlin, "jar"))
    android = repo.get(gpath("org.robolectric", "android-all", ANDROID_ALL[sdk], "jar"))
    if plugin is None or android is None:
        raise SystemExit("android-deps: the Compose compiler plugin or android-all is not served")
    write("compose-plugin", [plugin])
    write("android", [android])
    with open(os.path.join(args.out, "resolve.txt"), "w") as f:
        for (g, a), v in sorted(selected.items()):
            f.write(f"{g}:{a}:{v}\n")
    print(f"android-deps: {len(selected)} modules for the app and its tests, {len(tsel)} for the compiler; "
          f"downloaded {repo.downloaded} files ({repo.downloaded_bytes // (1 << 20)} MiB)", file=sys.stderr)


if __name__ == "__main__":
    main()
