/**
 * Protobuf text format, the language of Triton's `config.pbtxt`: a parser into a tree that
 * keeps where each field and value was written, so that whoever checks the tree against a
 * schema (model-config.ts) can say `config.pbtxt:12:5: ...`. It knows no schema: it cannot
 * tell a message from a map or an enum name from a boolean; that is the schema's job.
 *
 * The subset is the one real Triton configs use, which is nearly all of the format:
 * `name: value`, `name { ... }`, `name: { ... }` and `< ... >`, lists (`dims: [ -1, 3 ]`,
 * `input [ { ... }, { ... } ]`), strings in either quote with C escapes and adjacent
 * strings joined, integers (decimal, hex, octal), floats (`1.5`, `.5`, `1e-3`, `2f`, `inf`,
 * `nan`), identifiers, `#` comments and optional `,` / `;` after a field. Not in it:
 * extensions and `Any` expansions (`[type.googleapis.com/...]`), which Triton configs have
 * no use for.
 */

/** Where something is in a config file: 1-based line and column (UTF-16 units, a tab is 1). */
export interface TextPosition {
  readonly line: number;
  readonly column: number;
}

/** A string value: every piece of adjacent strings (`"a" 'b'`) joined, escapes decoded. */
export interface TextString extends TextPosition {
  readonly kind: 'string';
  readonly value: string;
}

/** A number, as written (`text`) and as read. */
export interface TextNumber extends TextPosition {
  readonly kind: 'number';
  /** The literal as written, sign included (`-0x10`, `1.5f`, `-inf`). */
  readonly text: string;
  /**
   * The exact value of an integer literal (decimal, `0x` hex or `0`-prefixed octal);
   * undefined for a float (one with `.`, an exponent, an `f` suffix, or `inf` / `nan`),
   * which an integer field must refuse.
   */
  readonly integer: bigint | undefined;
  /** The value as a double (inexact for integers beyond 2^53). */
  readonly value: number;
}

/** A bare word: an enum value's name, `true` / `false`, or any other identifier. */
export interface TextIdentifier extends TextPosition {
  readonly kind: 'identifier';
  readonly value: string;
}

/** A message: `{ ... }` or `< ... >`, or the whole file. */
export interface TextMessage extends TextPosition {
  readonly kind: 'message';
  /** Its fields in the order written; a repeated field appears once per occurrence. */
  readonly fields: readonly TextField[];
}

/** Any value a field can have. */
export type TextValue = TextString | TextNumber | TextIdentifier | TextMessage;

/** One occurrence of a field: `name: value`, `name { ... }` or `name: [ ... ]`. */
export interface TextField extends TextPosition {
  readonly name: string;
  /**
   * Whether a `:` followed the name. Protobuf requires it before a scalar value (or a
   * list of them) and leaves it optional before a message, which only a schema can check.
   */
  readonly colon: boolean;
  /** Whether the values were written as a `[ ... ]` list (possibly empty). */
  readonly list: boolean;
  /** The values: one, or the list's elements. */
  readonly values: readonly TextValue[];
}

/** Options of {@link parseTextFormat}. */
export interface TextFormatOptions {
  /**
   * How deep messages may nest; deeper input is refused rather than parsed, so that a
   * hostile file cannot exhaust the stack. Default {@link MAX_TEXT_DEPTH} (Triton's
   * deepest real nesting is 6).
   */
  readonly maxDepth?: number;
}

/** The default limit on message nesting. */
export const MAX_TEXT_DEPTH = 64;

/**
 * A configuration that cannot be read or is not valid: thrown by the text parser and by
 * model-config.ts. The message reads `<file>:<line>:<column>: <field>: <reason>`, the parts
 * that are not known left out: a JSON config has no line and column, a syntax error no
 * field.
 *
 * @example
 * ```ts
 * try {
 *   parseTextFormat(text, 'models/resnet/config.pbtxt');
 * } catch (err) {
 *   if (err instanceof ConfigError) console.error(err.message); // models/resnet/config.pbtxt:3:1: expected ...
 * }
 * ```
 */
export class ConfigError extends Error {
  /** The file (or, for a model without one, the model's name) the error is about. */
  readonly file: string;
  /** The 1-based line, when the source has lines (a text config). */
  readonly line: number | undefined;
  /** The 1-based column, with {@link ConfigError.line}. */
  readonly column: number | undefined;
  /** The field's path (`input[0].dims`), when the error is about one. */
  readonly field: string | undefined;
  /** What is wrong, without the location. */
  readonly reason: string;

  constructor(file: string, reason: string, at: { readonly line?: number; readonly column?: number; readonly field?: string } = {}) {
    const where = at.line === undefined ? file : `${file}:${at.line}:${at.column ?? 1}`;
    super(`${where}: ${at.field === undefined ? '' : `${at.field}: `}${reason}`);
    this.file = file;
    this.line = at.line;
    this.column = at.line === undefined ? undefined : (at.column ?? 1);
    this.field = at.field;
    this.reason = reason;
  }
}
Object.defineProperty(ConfigError.prototype, 'name', { value: 'ConfigError', configurable: true, writable: true, enumerable: false });

/**
 * Parses protobuf text format into a tree of fields with their positions.
 *
 * @param text - the file's contents (a leading byte-order mark is skipped).
 * @param file - the name errors cite.
 * @returns the top-level message, at 1:1.
 * @throws {@link ConfigError} on a syntax error, naming what was expected and what came,
 * where it came; or when messages nest deeper than `options.maxDepth`.
 * @example
 * ```ts
 * const tree = parseTextFormat('max_batch_size: 8\ninput [ { name: "x" dims: [ -1 ] } ]', 'config.pbtxt');
 * tree.fields[0]; // { name: 'max_batch_size', line: 1, column: 1, colon: true, list: false, values: [{ kind: 'number', ... }] }
 * ```
 */
export function parseTextFormat(text: string, file: string, options: TextFormatOptions = {}): TextMessage {
  const maxDepth = options.maxDepth ?? MAX_TEXT_DEPTH;
  if (!Number.isInteger(maxDepth) || maxDepth < 0) {
    throw new TypeError(`maxDepth must be a non-negative integer, got ${String(maxDepth)}`);
  }
  return new Parser(text, file, maxDepth).parse();
}

type Sym = '{' | '}' | '<' | '>' | '[' | ']' | ':' | ',' | ';' | '-';

type Token =
  | { readonly type: 'identifier'; readonly value: string; readonly line: number; readonly column: number }
  | { readonly type: 'string'; readonly pieces: StringPiece; readonly raw: string; readonly line: number; readonly column: number }
  | { readonly type: 'number'; readonly text: string; readonly integer: bigint | undefined; readonly value: number; readonly line: number; readonly column: number }
  | { readonly type: 'symbol'; readonly value: Sym; readonly line: number; readonly column: number }
  | { readonly type: 'end'; readonly line: number; readonly column: number };

/** A string literal's contents: text when it had no byte escapes, else its UTF-8 bytes. */
type StringPiece = string | Uint8Array;

const SYMBOLS = new Set<string>(['{', '}', '<', '>', '[', ']', ':', ',', ';', '-']);
const SIMPLE_ESCAPES: Readonly<Record<string, number>> = {
  a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, "'": 39, '"': 34, '?': 63,
};
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

const isDigit = (c: number) => c >= 48 && c <= 57;
const isHexDigit = (c: number) => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
const isIdentStart = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isIdentPart = (c: number) => isIdentStart(c) || isDigit(c);

/**
 * Splits the text into tokens on demand (one of lookahead), tracking line and column.
 * Whitespace and `#` comments are skipped between tokens.
 */
class Lexer {
  private pos = 0;
  private line = 1;
  private lineStart = 0;
  private peeked: Token | undefined;

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {
    if (text.charCodeAt(0) === 0xfeff) this.pos = this.lineStart = 1;
  }

  fail(line: number, column: number, reason: string): never {
    throw new ConfigError(this.file, reason, { line, column });
  }

  peek(): Token {
    return (this.peeked ??= this.scan());
  }

  next(): Token {
    const t = this.peek();
    this.peeked = undefined;
    return t;
  }

  private scan(): Token {
    this.skipSpaceAndComments();
    const { text } = this;
    const line = this.line;
    const column = this.pos - this.lineStart + 1;
    if (this.pos >= text.length) return { type: 'end', line, column };
    const c = text.charCodeAt(this.pos);
    if (isIdentStart(c)) {
      const start = this.pos;
      while (this.pos < text.length && isIdentPart(text.charCodeAt(this.pos))) this.pos++;
      return { type: 'identifier', value: text.slice(start, this.pos), line, column };
    }
    if (isDigit(c) || (c === 46 && isDigit(text.charCodeAt(this.pos + 1)))) return this.number(line, column);
    if (c === 34 || c === 39) return this.string(line, column);
    const ch = text[this.pos];
    if (SYMBOLS.has(ch)) {
      this.pos++;
      return { type: 'symbol', value: ch as Sym, line, column };
    }
    return this.fail(line, column, `unexpected character ${describeChar(text.codePointAt(this.pos)!)}`);
  }

  private skipSpaceAndComments(): void {
    const { text } = this;
    while (this.pos < text.length) {
      const c = text.charCodeAt(this.pos);
      if (c === 10) {
        this.pos++;
        this.line++;
        this.lineStart = this.pos;
      } else if (c === 32 || c === 9 || c === 13 || c === 11 || c === 12) {
        this.pos++;
      } else if (c === 35) {
        while (this.pos < text.length && text.charCodeAt(this.pos) !== 10) this.pos++;
      } else {
        return;
      }
    }
  }

  /** An unsigned number literal; a sign is the parser's (`-` is a token of its own). */
  private number(line: number, column: number): Token {
    const { text } = this;
    const start = this.pos;
    let integer: bigint | undefined;
    if (text.charCodeAt(start) === 48 && (text[start + 1] === 'x' || text[start + 1] === 'X')) {
      this.pos += 2;
      while (this.pos < text.length && isHexDigit(text.charCodeAt(this.pos))) this.pos++;
      if (this.pos === start + 2) this.fail(line, column, `expected hex digits after '${text.slice(start, this.pos)}'`);
      integer = BigInt(text.slice(start, this.pos));
    } else if (text.charCodeAt(start) === 48 && isDigit(text.charCodeAt(start + 1))) {
      // Protobuf reads a leading zero as octal, as C does: 010 is 8.
      this.pos++;
      while (this.pos < text.length && isDigit(text.charCodeAt(this.pos))) this.pos++;
      const digits = text.slice(start + 1, this.pos);
      if (/[89]/.test(digits) || text[this.pos] === '.' || text[this.pos] === 'e' || text[this.pos] === 'E') {
        this.fail(line, column, `a number that starts with 0 is octal (protobuf's rule), and '${text.slice(start, this.pos + 1)}' is not`);
      }
      integer = BigInt(`0o${digits}`);
    } else {
      let float = false;
      while (this.pos < text.length && isDigit(text.charCodeAt(this.pos))) this.pos++;
      if (text[this.pos] === '.') {
        float = true;
        this.pos++;
        while (this.pos < text.length && isDigit(text.charCodeAt(this.pos))) this.pos++;
      }
      if (text[this.pos] === 'e' || text[this.pos] === 'E') {
        float = true;
        this.pos++;
        if (text[this.pos] === '+' || text[this.pos] === '-') this.pos++;
        const digitsAt = this.pos;
        while (this.pos < text.length && isDigit(text.charCodeAt(this.pos))) this.pos++;
        if (this.pos === digitsAt) this.fail(line, column, `expected digits in the exponent of '${text.slice(start, this.pos)}'`);
      }
      const digits = text.slice(start, this.pos);
      if (text[this.pos] === 'f' || text[this.pos] === 'F') {
        float = true;
        this.pos++;
      }
      if (!float) integer = BigInt(digits);
      if (isIdentPart(text.charCodeAt(this.pos)) || text[this.pos] === '.') {
        this.fail(line, this.pos - this.lineStart + 1, `unexpected ${describeChar(text.codePointAt(this.pos)!)} after the number '${text.slice(start, this.pos)}'`);
      }
      const written = text.slice(start, this.pos);
      return { type: 'number', text: written, integer, value: Number(digits), line, column };
    }
    if (isIdentPart(text.charCodeAt(this.pos)) || text[this.pos] === '.') {
      this.fail(line, this.pos - this.lineStart + 1, `unexpected ${describeChar(text.codePointAt(this.pos)!)} after the number '${text.slice(start, this.pos)}'`);
    }
    return { type: 'number', text: text.slice(start, this.pos), integer, value: Number(integer), line, column };
  }

  /**
   * A quoted string. Protobuf strings are bytes, so octal and hex escapes are bytes, and
   * the result must be valid UTF-8; a string may not span lines.
   */
  private string(line: number, column: number): Token {
    const { text } = this;
    const quote = text.charCodeAt(this.pos);
    const start = this.pos;
    this.pos++;
    let plainFrom = this.pos;
    let bytes: number[] | undefined;
    let parts: string | undefined;
    const flushPlain = (end: number) => {
      if (end === plainFrom) return;
      const chunk = text.slice(plainFrom, end);
      if (bytes) for (const b of utf8.encode(chunk)) bytes.push(b);
      else parts = (parts ?? '') + chunk;
    };
    const toBytes = () => {
      if (!bytes) bytes = parts === undefined ? [] : Array.from(utf8.encode(parts));
      return bytes;
    };
    for (;;) {
      if (this.pos >= text.length || text.charCodeAt(this.pos) === 10) {
        this.fail(line, column, 'unterminated string (a string must end on the line it starts on)');
      }
      const c = text.charCodeAt(this.pos);
      if (c === quote) {
        flushPlain(this.pos);
        this.pos++;
        break;
      }
      if (c !== 92) {
        this.pos++;
        continue;
      }
      flushPlain(this.pos);
      const escAt = this.pos - this.lineStart + 1;
      const e = text[this.pos + 1];
      this.pos += 2;
      if (e === undefined || e === '\n') this.fail(line, column, 'unterminated string (a string must end on the line it starts on)');
      if (Object.hasOwn(SIMPLE_ESCAPES, e)) {
        const code = SIMPLE_ESCAPES[e];
        if (bytes) bytes.push(code);
        else parts = (parts ?? '') + String.fromCharCode(code);
      } else if (e >= '0' && e <= '7') {
        let value = e.charCodeAt(0) - 48;
        for (let i = 0; i < 2 && text[this.pos] >= '0' && text[this.pos] <= '7'; i++) value = value * 8 + (text.charCodeAt(this.pos++) - 48);
        if (value > 255) this.fail(this.line, escAt, `octal escape '\\${value.toString(8)}' is more than a byte`);
        toBytes().push(value);
      } else if (e === 'x' || e === 'X') {
        let digits = '';
        while (digits.length < 2 && isHexDigit(text.charCodeAt(this.pos))) digits += text[this.pos++];
        if (digits === '') this.fail(this.line, escAt, `expected hex digits after '\\${e}'`);
        toBytes().push(parseInt(digits, 16));
      } else if (e === 'u' || e === 'U') {
        let cp = this.hexEscape(e === 'u' ? 4 : 8, escAt, e);
        if (cp >= 0xd800 && cp <= 0xdbff && text[this.pos] === '\\' && text[this.pos + 1] === 'u') {
          // A surrogate pair written as two \u escapes, as protobuf allows.
          const save = this.pos;
          this.pos += 2;
          const low = this.hexEscape(4, escAt, 'u');
          if (low >= 0xdc00 && low <= 0xdfff) cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          else this.pos = save;
        }
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
          this.fail(this.line, escAt, `'\\${e}${cp.toString(16)}' is not a Unicode scalar value`);
        }
        const ch = String.fromCodePoint(cp);
        if (bytes) for (const b of utf8.encode(ch)) bytes.push(b);
        else parts = (parts ?? '') + ch;
      } else {
        this.fail(this.line, escAt, `unknown escape '\\${e}' in a string`);
      }
      plainFrom = this.pos;
    }
    const raw = text.slice(start, this.pos);
    return { type: 'string', pieces: bytes ? Uint8Array.from(bytes) : (parts ?? ''), raw, line, column };
  }

  private hexEscape(count: number, escAt: number, letter: string): number {
    const digits = this.text.slice(this.pos, this.pos + count);
    if (digits.length !== count || ![...digits].every((d) => isHexDigit(d.charCodeAt(0)))) {
      this.fail(this.line, escAt, `expected ${count} hex digits after '\\${letter}'`);
    }
    this.pos += count;
    return parseInt(digits, 16);
  }
}

/** The float an identifier names (`inf`, `infinity`, `nan`, in any case), if any. */
function specialFloat(word: string): number | undefined {
  const w = word.toLowerCase();
  if (w === 'inf' || w === 'infinity') return Infinity;
  if (w === 'nan') return NaN;
  return undefined;
}

function describeChar(cp: number): string {
  return cp >= 0x20 && cp < 0x7f ? `'${String.fromCodePoint(cp)}'` : `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

function describe(t: Token): string {
  switch (t.type) {
    case 'end':
      return 'end of input';
    case 'symbol':
      return `'${t.value}'`;
    case 'identifier':
      return `identifier '${t.value}'`;
    case 'number':
      return `number ${t.text}`;
    case 'string':
      return `string ${t.raw.length > 40 ? `${t.raw.slice(0, 37)}...` : t.raw}`;
  }
}

const CLOSING: Readonly<Record<string, Sym>> = { '{': '}', '<': '>' };

/** Recursive descent over the lexer; recursion is bounded by maxDepth. */
class Parser {
  private readonly lex: Lexer;

  constructor(
    text: string,
    file: string,
    private readonly maxDepth: number,
  ) {
    this.lex = new Lexer(text, file);
  }

  parse(): TextMessage {
    return { kind: 'message', line: 1, column: 1, fields: this.fields(undefined, 0) };
  }

  /** Fields up to `close` (or the end of the input, at the top level). */
  private fields(open: { readonly close: Sym; readonly line: number; readonly column: number } | undefined, depth: number): TextField[] {
    const fields: TextField[] = [];
    for (;;) {
      const t = this.lex.next();
      if (open === undefined ? t.type === 'end' : t.type === 'symbol' && t.value === open.close) return fields;
      if (t.type !== 'identifier') {
        const expected = open === undefined ? 'a field name or the end of input' : `a field name or '${open.close}'`;
        const unclosed = open !== undefined && t.type === 'end' ? ` (the '${openerOf(open.close)}' at ${open.line}:${open.column} is not closed)` : '';
        this.lex.fail(t.line, t.column, `expected ${expected}, got ${describe(t)}${unclosed}`);
      }
      fields.push(this.field(t.value, t.line, t.column, depth));
      const sep = this.lex.peek();
      if (sep.type === 'symbol' && (sep.value === ',' || sep.value === ';')) this.lex.next();
    }
  }

  private field(name: string, line: number, column: number, depth: number): TextField {
    let colon = false;
    let t = this.lex.peek();
    if (t.type === 'symbol' && t.value === ':') {
      colon = true;
      this.lex.next();
      t = this.lex.peek();
    }
    if (t.type === 'symbol' && t.value === '[') {
      this.lex.next();
      return { name, line, column, colon, list: true, values: this.list(name, depth) };
    }
    if (t.type === 'symbol' && (t.value === '{' || t.value === '<')) {
      return { name, line, column, colon, list: false, values: [this.message(depth)] };
    }
    if (!colon) this.lex.fail(t.line, t.column, `expected ':', '{' or '[' after the field name '${name}', got ${describe(t)}`);
    return { name, line, column, colon, list: false, values: [this.scalar(name)] };
  }

  /** The elements of a list after its `[`, and the `]`. */
  private list(name: string, depth: number): TextValue[] {
    const values: TextValue[] = [];
    const first = this.lex.peek();
    if (first.type === 'symbol' && first.value === ']') {
      this.lex.next();
      return values;
    }
    for (;;) {
      const t = this.lex.peek();
      values.push(t.type === 'symbol' && (t.value === '{' || t.value === '<') ? this.message(depth) : this.scalar(name));
      const after = this.lex.next();
      if (after.type === 'symbol' && after.value === ']') return values;
      if (!(after.type === 'symbol' && after.value === ',')) {
        this.lex.fail(after.line, after.column, `expected ',' or ']' in the list of '${name}', got ${describe(after)}`);
      }
    }
  }

  private message(depth: number): TextMessage {
    const open = this.lex.next() as Extract<Token, { type: 'symbol' }>;
    if (depth + 1 > this.maxDepth) {
      this.lex.fail(open.line, open.column, `messages nest deeper than ${this.maxDepth} levels`);
    }
    const close = CLOSING[open.value];
    return { kind: 'message', line: open.line, column: open.column, fields: this.fields({ close, line: open.line, column: open.column }, depth + 1) };
  }

  /** A string (adjacent ones joined), a number (with its sign) or an identifier. */
  private scalar(name: string): TextValue {
    const t = this.lex.next();
    if (t.type === 'string') {
      const pieces = [t.pieces];
      for (let n = this.lex.peek(); n.type === 'string'; n = this.lex.peek()) pieces.push((this.lex.next() as typeof t).pieces);
      return { kind: 'string', line: t.line, column: t.column, value: this.joinString(pieces, t) };
    }
    if (t.type === 'number') return { kind: 'number', line: t.line, column: t.column, text: t.text, integer: t.integer, value: t.value };
    if (t.type === 'identifier') {
      // inf and nan are words to the lexer (a field may be named so) and numbers as values.
      const special = specialFloat(t.value);
      if (special !== undefined) return { kind: 'number', line: t.line, column: t.column, text: t.value, integer: undefined, value: special };
      return { kind: 'identifier', line: t.line, column: t.column, value: t.value };
    }
    if (t.type === 'symbol' && t.value === '-') {
      let n = this.lex.next();
      if (n.type === 'identifier' && specialFloat(n.value) !== undefined) {
        n = { type: 'number', text: n.value, integer: undefined, value: specialFloat(n.value)!, line: n.line, column: n.column };
      }
      if (n.type !== 'number') this.lex.fail(n.line, n.column, `expected a number after '-', got ${describe(n)}`);
      return {
        kind: 'number',
        line: t.line,
        column: t.column,
        text: `-${n.text}`,
        integer: n.integer === undefined ? undefined : -n.integer,
        value: -n.value,
      };
    }
    return this.lex.fail(t.line, t.column, `expected a value for '${name}', got ${describe(t)}`);
  }

  private joinString(pieces: StringPiece[], at: TextPosition): string {
    if (pieces.every((p) => typeof p === 'string')) return (pieces as string[]).join('');
    const all = pieces.map((p) => (typeof p === 'string' ? utf8.encode(p) : p));
    const joined = new Uint8Array(all.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of all) {
      joined.set(p, offset);
      offset += p.length;
    }
    try {
      return strictUtf8.decode(joined);
    } catch {
      return this.lex.fail(at.line, at.column, 'the string is not valid UTF-8 (its byte escapes make no UTF-8 sequence)');
    }
  }
}

function openerOf(close: Sym): string {
  return close === '}' ? '{' : '<';
}
