#!/usr/bin/env bash
# Re-fetches the MediaPipe packages the guest page's effects use (server/web/effects.js) from the
# npm registry, at the pinned versions, checks them, and writes exactly the files the page needs
# into server/web/vendor/mediapipe/<package>-<version>/. The server embeds and serves them from
# its own origin: nothing is loaded from a CDN.
#
#   scripts/vendor-mediapipe.sh           # fetch, check and (re)write the vendored files
#   scripts/vendor-mediapipe.sh --check   # fetch and check only: the tree must match
#
# Only the SIMD WebAssembly builds are kept (every browser with WebRTC insertable streams has
# wasm SIMD); a browser without SIMD asks for the plain build, gets a 404 and the page says
# effects are unavailable. The face mesh's Emscripten glue is changed where it built functions
# from source text (`new Function`), which a strict Content-Security-Policy (no 'unsafe-eval')
# refuses: each becomes a plain closure, as in later Emscripten releases (the selfie
# segmentation build already has those forms). server/web/vendor/mediapipe/README.md says more.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/server/web/vendor/mediapipe"
check=false
[[ "${1:-}" == "--check" ]] && check=true

# package version sha256-of-the-npm-tarball
packages=(
  "selfie_segmentation 0.1.1675465747 7767b33eaa68990ee06c28bbb89f39a13a47ebb07ff0f1fd4947d9e817bb9bf9"
  "face_mesh 0.4.1633559619 a65c9a7509560f29e574c026dc6a667d2154617eb3ba0c287db02350de0c116f"
)
files_selfie_segmentation=(
  selfie_segmentation.js selfie_segmentation.binarypb selfie_segmentation.tflite
  selfie_segmentation_landscape.tflite selfie_segmentation_solution_simd_wasm_bin.js
  selfie_segmentation_solution_simd_wasm_bin.wasm selfie_segmentation_solution_simd_wasm_bin.data
)
files_face_mesh=(
  face_mesh.js face_mesh.binarypb face_mesh_solution_packed_assets.data
  face_mesh_solution_packed_assets_loader.js face_mesh_solution_simd_wasm_bin.js
  face_mesh_solution_simd_wasm_bin.wasm face_mesh_solution_simd_wasm_bin.data
)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
out="$work/out"
mkdir -p "$out"
for entry in "${packages[@]}"; do
  read -r name version sum <<<"$entry"
  (cd "$work" && npm pack --silent "@mediapipe/$name@$version" >/dev/null)
  tarball="$work/mediapipe-$name-$version.tgz"
  echo "$sum  $tarball" | sha256sum --check --quiet
  mkdir -p "$work/$name"
  tar xzf "$tarball" -C "$work/$name"
  dir="$out/$name-$version"
  mkdir -p "$dir"
  list="files_$name[@]"
  for file in "${!list}"; do
    install -m 0644 "$work/$name/package/$file" "$dir/$file"
  done
done

# The patch (see above); each step must apply exactly once. The eval-free forms are taken from
# the selfie segmentation build, which has them.
python3 - "$out/face_mesh-0.4.1633559619/face_mesh_solution_simd_wasm_bin.js" \
  "$out/selfie_segmentation-0.1.1675465747/selfie_segmentation_solution_simd_wasm_bin.js" <<'PY'
import sys
path, donor_path = sys.argv[1:]
text = open(path, encoding='utf-8').read()
donor = open(donor_path, encoding='utf-8').read()

def function(source, name, end):
    start = source.index(f'function {name}(')
    return source[start:source.index(end, start) + len(end)]

def swap(old, new):
    global text
    assert text.count(old) == 1, f'face mesh patch: {old[:60]!r} not found exactly once'
    text = text.replace(old, new)

# embind's createNamedFunction: new Function(...) -> a closure.
swap('return new Function("body","return function "+name+"() {\\n"+\'    "use strict";\'+"    return body.apply(this, arguments);\\n"+"};\\n")(body)}',
     'return function(){"use strict";return body.apply(this,arguments)}}')
# embind's craftInvokerFunction: source text run through new_(Function, ...) -> a closure.
swap(function(text, 'craftInvokerFunction', 'return invokerFunction}'),
     function(donor, 'craftInvokerFunction', 'return onDone(rv)}}'))
# emval's method callers: the same (a closure reading each argument, as later Emscripten does).
swap(function(text, '__emval_get_method_caller', 'return __emval_addMethodCaller(invokerFunction)}'),
     'function __emval_get_method_caller(argCount,argTypes){var types=__emval_lookupTypes(argCount,argTypes);'
     'var retType=types[0];var invokerFunction=function(handle,name,destructors,args){var argN=new Array(argCount-1);'
     'var offset=0;for(var i=0;i<argCount-1;++i){argN[i]=types[i+1]["readValueFromPointer"](args+offset);'
     'offset+=types[i+1]["argPackAdvance"]}var rv=handle[name].apply(handle,argN);for(var i=0;i<argCount-1;++i){'
     'if(types[i+1]["deleteObject"]){types[i+1]["deleteObject"](argN[i])}}if(!retType.isVoid){'
     'return retType["toWireType"](destructors,rv)}};return __emval_addMethodCaller(invokerFunction)}')
assert 'new_(Function' not in text and 'new Function' not in text, 'face mesh patch: eval left'
open(path, 'w', encoding='utf-8').write(text)
PY
# The texts written by hand (licence, notes, sums) are not fetched; copy them over.
for file in LICENSE README.md SHA256SUMS; do
  [[ -f "$dest/$file" ]] && cp "$dest/$file" "$out/$file"
done

# Every file the page gets must match the checked-in sums.
if [[ -f "$dest/SHA256SUMS" ]]; then
  (cd "$out" && sha256sum --check --quiet SHA256SUMS)
fi
if $check; then
  diff -r "$out" "$dest" >/dev/null || { echo "vendor-mediapipe: the tree differs from a fresh fetch" >&2; exit 1; }
  echo "vendor-mediapipe: server/web/vendor/mediapipe matches the pinned packages"
  exit 0
fi
rm -rf "$dest"
mkdir -p "$dest"
cp -r "$out/." "$dest/"
if [[ ! -f "$dest/SHA256SUMS" ]]; then
  (cd "$dest" && find . -type f ! -name SHA256SUMS ! -name LICENSE ! -name README.md | sort | sed 's|^\./||' | xargs sha256sum > SHA256SUMS)
fi
echo "vendor-mediapipe: wrote $(find "$dest" -type f | wc -l) files to server/web/vendor/mediapipe"
