#!/usr/bin/env node
// Fetches ONNX Runtime's C API headers into deps/onnxruntime/include.
//
// The headers come from Debian's `libonnxruntime-dev` package (trixie), fetched
// with apt-get into a private sources list and lists folder, then unpacked with
// dpkg-deb: nothing is installed on the system and nothing but Debian's own
// mirror is contacted. apt verifies the package against Debian's signing keys.
//
// Set ORT_INCLUDE_DIR to a folder that already holds onnxruntime_c_api.h to
// skip the fetch (any ONNX Runtime release >= 1.21 works: the addon asks the
// runtime for API version 21, which every newer runtime serves).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = 'libonnxruntime-dev';
const VERSION = '1.21.0+dfsg-1';
const SUITE = 'trixie';
const MIRROR = process.env.ORT_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'deps', 'onnxruntime', 'include');
const marker = join(target, 'onnxruntime_c_api.h');

if (process.env.ORT_INCLUDE_DIR) {
  if (!existsSync(join(process.env.ORT_INCLUDE_DIR, 'onnxruntime_c_api.h'))) {
    fail(`ORT_INCLUDE_DIR=${process.env.ORT_INCLUDE_DIR} holds no onnxruntime_c_api.h`);
  }
  console.log(`onnxruntime headers: using ORT_INCLUDE_DIR=${process.env.ORT_INCLUDE_DIR}`);
  process.exit(0);
}
if (existsSync(marker)) {
  console.log(`onnxruntime headers: already in ${target}`);
  process.exit(0);
}
for (const tool of ['apt-get', 'dpkg-deb']) {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  } catch {
    fail(`${tool} is not on PATH. This script fetches the headers from Debian's ${PACKAGE} package; ` +
      `on other systems, put ONNX Runtime's include folder (>= 1.21) in ORT_INCLUDE_DIR.`);
  }
}

const work = join(root, 'deps', '.apt');
rmSync(work, { recursive: true, force: true });
mkdirSync(join(work, 'lists', 'partial'), { recursive: true });
mkdirSync(join(work, 'cache', 'archives', 'partial'), { recursive: true });
const signedBy = existsSync(KEYRING) ? `[signed-by=${KEYRING}] ` : '';
writeFileSync(join(work, 'sources.list'), `deb ${signedBy}${MIRROR} ${SUITE} main\n`);
const apt = [
  '-o', `Dir::Etc::SourceList=${join(work, 'sources.list')}`,
  '-o', 'Dir::Etc::SourceParts=/dev/null',
  '-o', `Dir::State::Lists=${join(work, 'lists')}`,
  '-o', `Dir::Cache=${join(work, 'cache')}`,
  '-o', 'Debug::NoLocking=1',
  '-o', 'APT::Sandbox::User=root',
  '-qq',
];
console.log(`onnxruntime headers: fetching ${PACKAGE}=${VERSION} from ${MIRROR} ${SUITE}`);
run('apt-get', [...apt, 'update'], work);
run('apt-get', [...apt, 'download', `${PACKAGE}=${VERSION}`], work);
const deb = readdirSync(work).find((f) => f.endsWith('.deb'));
if (!deb) fail(`apt-get download left no .deb in ${work}`);
const unpacked = join(work, 'root');
run('dpkg-deb', ['-x', join(work, deb), unpacked], work);
mkdirSync(dirname(target), { recursive: true });
rmSync(target, { recursive: true, force: true });
cpSync(join(unpacked, 'usr', 'include', 'onnxruntime'), target, { recursive: true });
rmSync(work, { recursive: true, force: true });
console.log(`onnxruntime headers: ${target}`);

function run(cmd, args, cwd) {
  try {
    execFileSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (err) {
    fail(`${cmd} ${args.at(-1)} failed (${err.message.split('\n')[0]}). ` +
      `Is ${MIRROR} reachable? Set ORT_DEBIAN_MIRROR to another Debian mirror, ` +
      `or ORT_INCLUDE_DIR to an ONNX Runtime include folder (>= 1.21).`);
  }
}

function fail(message) {
  console.error(`onnxruntime headers: ${message}`);
  process.exit(1);
}
