/**
 * The checks lib/runtime/library-file.ts makes on a library file before the loader sees it,
 * on headers read from buffers: ELF for this machine and others, and the Mach-O and PE
 * rules, which run here as they would on macOS and Windows. Nothing is loaded.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { headerProblem, libraryFileProblem, type ReadAt } from '../../lib/runtime/library-file';
import { root } from '../helpers/common';

const Header = suite('library files are checked before they are loaded');

const BUNDLED = join(root, 'node_modules', 'sherpa-onnx-linux-x64', 'libonnxruntime.so');
const OFFICIAL = join(root, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime.so.1');

/** A reader over `bytes`, claiming the file is `size` bytes long (its length by default). */
function over(bytes: Buffer): ReadAt {
  return (offset, length) => bytes.subarray(offset, offset + length);
}

function elf(bytes: Buffer, size = bytes.length, arch = 'x64'): string | undefined {
  return headerProblem(over(bytes), size, 'linux', arch);
}

Header('real ONNX Runtime libraries pass', () => {
  assert.is(libraryFileProblem(BUNDLED), undefined);
  assert.is(libraryFileProblem(OFFICIAL), undefined);
});

Header('ELF: a truncated file, whatever its headers point past, is named truncated', () => {
  const whole = readFileSync(BUNDLED);
  assert.is(elf(whole), undefined);
  assert.match(elf(whole.subarray(0, 100 * 1024))!, /^the file is truncated: it has 102400 bytes, but its ELF headers place loadable segment \d+ \(PT_LOAD\) up to byte \d+/);
  // Two bytes short: its last loadable segment ends one byte before its end.
  assert.match(elf(whole.subarray(0, whole.length - 2))!, new RegExp(`it has ${whole.length - 2} bytes, but its ELF headers place loadable segment \\d+ \\(PT_LOAD\\) up to byte ${whole.length - 1} `));
  // A section header table past the end of the file, the rest in it.
  const moved = Buffer.from(whole);
  moved.writeBigUInt64LE(BigInt(whole.length - 100), 40);
  assert.match(elf(moved)!, new RegExp(`place the section header table up to byte ${whole.length - 100 + 33 * 64} `));
  // Cut inside the headers themselves.
  assert.match(elf(whole.subarray(0, 100))!, /truncated: it has 100 bytes, but its ELF headers place .* up to byte/);
  assert.match(elf(whole.subarray(0, 40))!, /too short to hold an ELF header/);
  assert.match(elf(Buffer.alloc(0))!, /0 bytes long: too short to be an ELF shared object/);
});

Header('ELF: another machine, word size, byte order or file type is refused, saying which', () => {
  const head = Buffer.from(readFileSync(BUNDLED).subarray(0, 4096));
  const patched = (edit: (b: Buffer) => void) => {
    const b = Buffer.from(head);
    edit(b);
    return b;
  };
  // The whole file's size, so that only the edited field is wrong.
  const size = readFileSync(BUNDLED).length;
  const problem = (b: Buffer, arch = 'x64') => headerProblem(over(b), size, 'linux', arch);
  assert.is(problem(head), undefined);
  assert.match(problem(patched((b) => b.writeUInt16LE(183, 18)))!, /for AArch64 \(arm64\) \(e_machine 183\); this process \(x64\) needs x86-64 \(e_machine 62\)/);
  assert.match(problem(head, 'arm64')!, /for x86-64 .*this process \(arm64\) needs AArch64/);
  assert.match(problem(head, 'ia32')!, /64-bit ELF file; this process \(ia32\) loads 32-bit libraries/);
  assert.match(problem(patched((b) => (b[4] = 1)))!, /32-bit ELF file; this process \(x64\) loads 64-bit/);
  assert.match(problem(patched((b) => (b[5] = 2)))!, /big-endian ELF file; this machine is little-endian/);
  assert.match(problem(patched((b) => b.writeUInt16LE(2, 16)))!, /an ELF executable, not a shared object/);
  assert.match(problem(patched((b) => b.writeUInt16LE(1, 16)))!, /relocatable ELF object/);
  assert.match(problem(patched((b) => b.writeUInt16LE(0, 56)))!, /no ELF program headers/);
  assert.match(problem(patched((b) => b.writeUInt16LE(32, 54)))!, /program headers are 32 bytes each, not 56/);
  // An arch this module has no table for: the machine is not checked, the rest is.
  assert.is(problem(head, 'some-new-arch'), undefined);
});

Header('ELF platforms refuse other formats by name', () => {
  assert.match(elf(Buffer.from('not a shared library'))!, /not an ELF shared object: it starts with the bytes 6e 6f 74 20, not 7f 45 4c 46/);
  assert.match(elf(Buffer.from([0xcf, 0xfa, 0xed, 0xfe, 0, 0, 0, 0]))!, /Mach-O file \(macOS's format\), not an ELF shared object/);
  assert.match(elf(Buffer.from('MZ\x90\x00\x03\x00\x00\x00'))!, /PE file \(Windows' format\), not an ELF shared object/);
});

/** A thin 64-bit Mach-O header (little-endian) for `cpu`. */
function machO(cpu: number): Buffer {
  const b = Buffer.alloc(32);
  b.writeUInt32LE(0xfeedfacf, 0);
  b.writeUInt32LE(cpu, 4);
  b.writeUInt32LE(6, 12); // MH_DYLIB
  return b;
}

Header('macOS: Mach-O for this CPU, or universal, passes; anything else is refused', () => {
  const mac = (b: Buffer, arch: string) => headerProblem(over(b), b.length, 'darwin', arch);
  assert.is(mac(machO(0x0100000c), 'arm64'), undefined);
  assert.is(mac(machO(0x01000007), 'x64'), undefined);
  assert.match(mac(machO(0x01000007), 'arm64')!, /Mach-O file for x86-64; this process \(arm64\) needs arm64/);
  assert.is(mac(Buffer.from([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2]), 'arm64'), undefined);
  assert.match(mac(readFileSync(BUNDLED).subarray(0, 64), 'arm64')!, /ELF file .*, not a Mach-O library/);
  assert.match(mac(Buffer.from('#!/bin/sh\n'), 'x64')!, /not a Mach-O library: it starts with the bytes 23 21 2f 62/);
});

/** A minimal PE file head: "MZ", e_lfanew at 0x3c, then "PE\0\0". */
function pe(withSignature = true): Buffer {
  const b = Buffer.alloc(0x100);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x80, 0x3c);
  if (withSignature) b.write('PE\0\0', 0x80, 'latin1');
  return b;
}

Header('Windows: a PE file passes; a DOS stub, another format or a short file is refused', () => {
  const win = (b: Buffer) => headerProblem(over(b), b.length, 'win32', 'x64');
  assert.is(win(pe()), undefined);
  assert.match(win(pe(false))!, /no PE signature \("PE\\0\\0"\) at byte 128/);
  assert.match(win(pe().subarray(0, 0x82))!, /no PE signature/);
  assert.match(win(pe().subarray(0, 10))!, /too short to hold a PE header/);
  assert.match(win(readFileSync(BUNDLED).subarray(0, 64))!, /ELF file .*, not a DLL/);
});

Header('files that are not regular files are refused without being opened', () => {
  assert.match(libraryFileProblem(root)!, /^it is a directory, not a regular file/);
  assert.match(libraryFileProblem('/dev/null')!, /^it is a character device, not a regular file/);
});

Header.run();
