/**
 * @internal Checking a shared library's file before the addon hands it to `dlopen`
 * (`LoadLibrary` on Windows). The loader trusts the file it maps: a FIFO at the path
 * blocks it forever in `open()`, and an ELF file cut short (an interrupted download or
 * copy) is mapped segment by segment past its end, so that the first read of a missing
 * page kills the process with SIGBUS. Neither can be caught once it happens, so the
 * file is read here first: its type, and the headers that say where its contents lie.
 *
 * This lives in TypeScript, not in the addon, because it is policy (what is accepted,
 * and what the error says) over a few header fields that `fs` reads as well as C++
 * would; it runs on every platform's header from any platform, so the tests check the
 * Mach-O and PE rules on Linux too.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { endianness } from 'node:os';

/** Reads up to `length` bytes at `offset` (fewer at the end of the file). */
export type ReadAt = (offset: number, length: number) => Buffer;

/**
 * What is wrong with the library file at `path` for this process, in words that
 * complete "Cannot load ONNX Runtime from <path>: ...", or undefined if nothing is.
 * Does not open anything that is not a regular file.
 */
export function libraryFileProblem(path: string, platform: NodeJS.Platform = process.platform, arch: string = process.arch): string | undefined {
  try {
    return fileProblem(path, platform, arch);
  } catch (err) {
    // Unreadable (permissions, say): the loader could not read it either.
    return `it cannot be read: ${(err as Error).message}`;
  }
}

function fileProblem(path: string, platform: NodeJS.Platform, arch: string): string | undefined {
  // stat, not open: opening a FIFO waits for a writer, and opening some devices acts.
  const kind = notRegular(statSync(path));
  if (kind) return `it is ${kind}, not a regular file${kind.startsWith('a FIFO') ? ' (reading it would wait for a writer forever)' : ''}`;
  // Non-blocking, in case the path was swapped for a FIFO in the meantime; the type is
  // checked again on what was opened.
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const stats = fstatSync(fd);
    const kindNow = notRegular(stats);
    if (kindNow) return `it is ${kindNow}, not a regular file`;
    const read: ReadAt = (offset, length) => {
      const buffer = Buffer.alloc(length);
      const n = readSync(fd, buffer, 0, length, offset);
      return buffer.subarray(0, n);
    };
    return headerProblem(read, stats.size, platform, arch);
  } finally {
    closeSync(fd);
  }
}

function notRegular(stats: Stats): string | undefined {
  if (stats.isFile()) return undefined;
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * What is wrong with a library file of `size` bytes, read through `read`, for a
 * process on `platform`/`arch`: the executable format that platform loads (ELF,
 * Mach-O, PE), and on ELF platforms the machine and that everything its headers
 * point at lies inside the file.
 */
export function headerProblem(read: ReadAt, size: number, platform: NodeJS.Platform, arch: string): string | undefined {
  const head = read(0, 64);
  if (platform === 'win32') return peProblem(head, read, size);
  if (platform === 'darwin') return machOProblem(head, arch);
  return elfProblem(head, read, size, arch);
}

function hex(bytes: Buffer): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** The executable format `head` starts with, for messages about the wrong one. */
function formatOf(head: Buffer): string | undefined {
  if (head.length >= 4 && head.readUInt32BE(0) === 0x7f454c46) return 'an ELF file (the format of Linux and other Unix systems)';
  if (head.length >= 4 && [0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe, 0xcafebabe, 0xcafebabf].includes(head.readUInt32BE(0))) {
    return "a Mach-O file (macOS's format)";
  }
  if (head.length >= 2 && head[0] === 0x4d && head[1] === 0x5a) return "a PE file (Windows' format)";
  return undefined;
}

function wrongFormat(head: Buffer, want: string, magic: string): string {
  if (head.length < 4) return `it is ${head.length} bytes long: too short to be ${want}`;
  const format = formatOf(head);
  if (format) return `it is ${format}, not ${want}`;
  return `it is not ${want}: it starts with the bytes ${hex(head.subarray(0, 4))}, not ${magic}`;
}

// ELF: the machine each Node.js arch runs on (e_machine), and its word size.
const ELF_MACHINES: Record<string, [machine: number, bits: 32 | 64]> = {
  x64: [62, 64],
  arm64: [183, 64],
  ia32: [3, 32],
  arm: [40, 32],
  ppc64: [21, 64],
  s390x: [22, 64],
  riscv64: [243, 64],
  loong64: [258, 64],
  mips: [8, 32],
  mipsel: [8, 32],
};
const ELF_MACHINE_NAMES: Record<number, string> = {
  3: 'x86 (32-bit)',
  8: 'MIPS',
  20: 'PowerPC',
  21: 'PowerPC 64',
  22: 's390x',
  40: 'ARM (32-bit)',
  62: 'x86-64',
  183: 'AArch64 (arm64)',
  243: 'RISC-V',
  258: 'LoongArch',
};
const ELF_TYPES: Record<number, string> = { 0: 'an ELF file of no type', 1: 'a relocatable ELF object (.o)', 2: 'an ELF executable', 4: 'an ELF core dump' };
const ET_DYN = 3;
const PT_LOAD = 1;

function elfProblem(head: Buffer, read: ReadAt, size: number, arch: string): string | undefined {
  if (head.length < 4 || head.readUInt32BE(0) !== 0x7f454c46) return wrongFormat(head, 'an ELF shared object', '7f 45 4c 46 ("\\x7fELF")');
  const bits = head[4] === 1 ? 32 : head[4] === 2 ? 64 : undefined;
  if (bits === undefined) return `its ELF class byte is ${head[4]}, neither 32-bit (1) nor 64-bit (2)`;
  const little = head[5] === 1 ? true : head[5] === 2 ? false : undefined;
  if (little === undefined) return `its ELF data byte is ${head[5]}, neither little-endian (1) nor big-endian (2)`;
  const headerSize = bits === 64 ? 64 : 52;
  if (head.length < headerSize) return `it is ${size} bytes long: too short to hold an ELF header (${headerSize} bytes)`;

  const want = ELF_MACHINES[arch];
  if (want && bits !== want[1]) return `it is a ${bits}-bit ELF file; this process (${arch}) loads ${want[1]}-bit libraries`;
  if (little !== (endianness() === 'LE')) {
    return `it is a ${little ? 'little' : 'big'}-endian ELF file; this machine is ${endianness() === 'LE' ? 'little' : 'big'}-endian`;
  }
  const u16 = (b: Buffer, at: number) => (little ? b.readUInt16LE(at) : b.readUInt16BE(at));
  const u32 = (b: Buffer, at: number) => (little ? b.readUInt32LE(at) : b.readUInt32BE(at));
  // Offsets and sizes past 2^53 are past any file's end anyway.
  const word = (b: Buffer, at: number) => (bits === 32 ? u32(b, at) : Number(little ? b.readBigUInt64LE(at) : b.readBigUInt64BE(at)));

  const type = u16(head, 16);
  if (type !== ET_DYN) return `it is ${ELF_TYPES[type] ?? `an ELF file of type ${type}`}, not a shared object`;
  const machine = u16(head, 18);
  if (want && machine !== want[0]) {
    const name = ELF_MACHINE_NAMES[machine] ?? `machine ${machine}`;
    return `it is an ELF shared object for ${name} (e_machine ${machine}); this process (${arch}) needs ${ELF_MACHINE_NAMES[want[0]]} (e_machine ${want[0]})`;
  }

  const at = bits === 64 ? { phoff: 32, shoff: 40, phentsize: 54, phnum: 56, shentsize: 58, shnum: 60 } : { phoff: 28, shoff: 32, phentsize: 42, phnum: 44, shentsize: 46, shnum: 48 };
  const phoff = word(head, at.phoff);
  const shoff = word(head, at.shoff);
  const phentsize = u16(head, at.phentsize);
  const shentsize = u16(head, at.shentsize);
  let phnum = u16(head, at.phnum);
  let shnum = u16(head, at.shnum);
  const phdrSize = bits === 64 ? 56 : 32;
  const shdrSize = bits === 64 ? 64 : 40;

  // The furthest byte the headers point at, and what lies there.
  let end = 0;
  let what = '';
  const reaches = (to: number, thing: string) => {
    if (to > end) {
      end = to;
      what = thing;
    }
  };
  const truncated = () =>
    `the file is truncated: it has ${size} bytes, but its ELF headers place ${what} up to byte ${end} (an interrupted download or copy?)`;

  let section0: Buffer | undefined;
  if (shoff !== 0) {
    if (shentsize !== shdrSize) return `its ELF section headers are ${shentsize} bytes each, not ${shdrSize}: the file is damaged`;
    // Past 0xff00 sections, or 0xffff program headers, the counts live in section 0.
    if (shoff + shdrSize <= size) section0 = read(shoff, shdrSize);
    if (section0 && shnum === 0) shnum = word(section0, bits === 64 ? 32 : 20);
    if (section0 && phnum === 0xffff) phnum = u32(section0, bits === 64 ? 44 : 28);
    reaches(shoff + Math.max(shnum, 1) * shdrSize, 'the section header table');
  }
  if (phnum === 0) return 'it has no ELF program headers: there is nothing to load';
  if (phentsize !== phdrSize) return `its ELF program headers are ${phentsize} bytes each, not ${phdrSize}: the file is damaged`;
  reaches(phoff + phnum * phdrSize, 'the program header table');
  if (phoff + phnum * phdrSize <= size) {
    const table = read(phoff, phnum * phdrSize);
    for (let i = 0; i < phnum; i++) {
      const p = i * phdrSize;
      if (u32(table, p) !== PT_LOAD) continue;
      const offset = word(table, p + (bits === 64 ? 8 : 4));
      const fileSize = word(table, p + (bits === 64 ? 32 : 16));
      reaches(offset + fileSize, `loadable segment ${i} (PT_LOAD)`);
    }
  }
  return end > size ? truncated() : undefined;
}

// Mach-O: the CPU each Node.js arch runs on (cputype), for thin files.
const MACHO_CPUS: Record<string, number> = { x64: 0x01000007, arm64: 0x0100000c };
const MACHO_CPU_NAMES: Record<number, string> = { 0x01000007: 'x86-64', 0x0100000c: 'arm64', 7: 'x86 (32-bit)', 12: 'ARM (32-bit)' };

function machOProblem(head: Buffer, arch: string): string | undefined {
  const magic = head.length >= 4 ? head.readUInt32BE(0) : 0;
  if (magic === 0xcafebabe || magic === 0xcafebabf) return undefined; // universal: dyld picks the slice
  const little = magic === 0xcefaedfe || magic === 0xcffaedfe;
  if (!little && magic !== 0xfeedface && magic !== 0xfeedfacf) return wrongFormat(head, 'a Mach-O library', 'cf fa ed fe (a Mach-O magic number)');
  if (head.length < 28) return `it is ${head.length} bytes long: too short to hold a Mach-O header`;
  const cpu = little ? head.readUInt32LE(4) : head.readUInt32BE(4);
  const want = MACHO_CPUS[arch];
  if (want !== undefined && cpu !== want) {
    return `it is a Mach-O file for ${MACHO_CPU_NAMES[cpu] ?? `CPU type ${cpu}`}; this process (${arch}) needs ${MACHO_CPU_NAMES[want]}`;
  }
  return undefined;
}

function peProblem(head: Buffer, read: ReadAt, size: number): string | undefined {
  if (head.length < 2 || head[0] !== 0x4d || head[1] !== 0x5a) return wrongFormat(head, 'a DLL', '4d 5a ("MZ")');
  if (head.length < 64) return `it is ${size} bytes long: too short to hold a PE header`;
  const peOffset = head.readUInt32LE(0x3c);
  const signature = peOffset + 4 <= size ? read(peOffset, 4) : Buffer.alloc(0);
  if (signature.length < 4 || signature.readUInt32BE(0) !== 0x50450000) {
    return `it starts with "MZ" but has no PE signature ("PE\\0\\0") at byte ${peOffset}: it is a DOS program or a damaged file, not a DLL`;
  }
  return undefined;
}
