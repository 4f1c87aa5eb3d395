import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { throwsConfig } from './config-helpers';
import { ConfigError, MAX_TEXT_DEPTH, parseTextFormat, type TextField, type TextMessage, type TextValue } from '../../../lib/server/config/text-format';


const parse = (text: string) => parseTextFormat(text, 'config.pbtxt');

/** The one value of the top-level field `name`. */
function valueOf(tree: TextMessage, name: string): TextValue {
  const f = tree.fields.find((x) => x.name === name);
  assert.ok(f, `no field ${name}`);
  assert.is(f.values.length, 1, `${name} has ${f.values.length} values`);
  return f.values[0];
}

/** The tree without positions, for comparing shapes. */
function bare(v: TextValue | TextMessage): unknown {
  switch (v.kind) {
    case 'message':
      return v.fields.map((f: TextField) => ({ name: f.name, colon: f.colon, list: f.list, values: f.values.map(bare) }));
    case 'number':
      return v.integer ?? v.value;
    default:
      return v.value;
  }
}

const Syntax = suite('text format: what Triton configs are written in');

Syntax("a config like Triton's densenet_onnx example, with every field's and value's line and column", () => {
  const text = [
    'name: "densenet_onnx"',
    'platform: "onnxruntime_onnx"',
    'max_batch_size : 0',
    'input [',
    '  {',
    '    name: "data_0"',
    '    data_type: TYPE_FP32',
    '    format: FORMAT_NCHW',
    '    dims: [ 3, 224, 224 ]',
    '  }',
    ']',
    'output {',
    '  name: "fc6_1"',
    '  reshape { shape: [ 1, 1000, 1, 1 ] }',
    '}',
  ].join('\n');
  const tree = parse(text);
  assert.equal(
    tree.fields.map((f) => [f.name, f.line, f.column, f.colon, f.list]),
    [
      ['name', 1, 1, true, false],
      ['platform', 2, 1, true, false],
      ['max_batch_size', 3, 1, true, false],
      ['input', 4, 1, false, true],
      ['output', 12, 1, false, false],
    ],
  );
  assert.equal(valueOf(tree, 'name'), { kind: 'string', line: 1, column: 7, value: 'densenet_onnx' });
  assert.equal(valueOf(tree, 'max_batch_size'), { kind: 'number', line: 3, column: 18, text: '0', integer: 0n, value: 0 });
  const input = tree.fields[3].values[0] as TextMessage;
  assert.equal([input.kind, input.line, input.column], ['message', 5, 3]);
  const dims = input.fields[3];
  assert.equal([dims.name, dims.line, dims.column, dims.colon, dims.list], ['dims', 9, 5, true, true]);
  assert.equal(dims.values.map((v) => [v.line, v.column, (v as { integer: bigint }).integer]), [[9, 13, 3n], [9, 16, 224n], [9, 21, 224n]]);
  assert.equal(input.fields[1].values[0], { kind: 'identifier', line: 7, column: 16, value: 'TYPE_FP32' });
  const reshape = (tree.fields[4].values[0] as TextMessage).fields[1];
  assert.equal([reshape.line, reshape.column, reshape.colon], [14, 3, false]);
});

Syntax('every way to write a field: colons, braces, angle brackets, lists, separators', () => {
  const tree = parse('a: 1 b {} c: {} d < > e: < x: 1 >, f [ {}, <> ] g: [1, 2]; h: [] i [] j { k: 1; l: 2, }');
  assert.equal(bare(tree), [
    { name: 'a', colon: true, list: false, values: [1n] },
    { name: 'b', colon: false, list: false, values: [[]] },
    { name: 'c', colon: true, list: false, values: [[]] },
    { name: 'd', colon: false, list: false, values: [[]] },
    { name: 'e', colon: true, list: false, values: [[{ name: 'x', colon: true, list: false, values: [1n] }]] },
    { name: 'f', colon: false, list: true, values: [[], []] },
    { name: 'g', colon: true, list: true, values: [1n, 2n] },
    { name: 'h', colon: true, list: true, values: [] },
    { name: 'i', colon: false, list: true, values: [] },
    {
      name: 'j',
      colon: false,
      list: false,
      values: [[{ name: 'k', colon: true, list: false, values: [1n] }, { name: 'l', colon: true, list: false, values: [2n] }]],
    },
  ]);
});

Syntax('a repeated field written several times keeps each occurrence, in order', () => {
  const tree = parse('input { name: "a" }\ninput { name: "b" }\ninput [ { name: "c" } ]');
  assert.equal(tree.fields.map((f) => [f.name, f.line, f.list, f.values.length]), [['input', 1, false, 1], ['input', 2, false, 1], ['input', 3, true, 1]]);
});

Syntax('strings: both quotes, C escapes, octal and hex bytes, \\u and \\U, adjacent strings joined', () => {
  const s = (literal: string) => (valueOf(parse(`s: ${literal}`), 's') as { value: string }).value;
  assert.is(s(`"double"`), 'double');
  assert.is(s(`'single'`), 'single');
  assert.is(s(`"it's " 'a "quote"'`), `it's a "quote"`);
  assert.is(s(String.raw`"\a\b\f\n\r\t\v\\\'\"\?"`), '\x07\b\f\n\r\t\v\\\'"?');
  assert.is(s(String.raw`"\101\102\7\0"`), 'AB\x07\0');
  assert.is(s(String.raw`"\x41\x4a\xA"`), 'AJ\n');
  assert.is(s(String.raw`"caf\u00e9 \U0001F600 \ud83d\ude00"`), 'café 😀 😀');
  // Byte escapes are UTF-8 bytes, also when an escape sequence spans two adjacent strings.
  assert.is(s(String.raw`"\303\251" "\xc3" "\xa9"`), 'éé');
  assert.is(s(`"ünïcödé as is, # not a comment"`), 'ünïcödé as is, # not a comment');
  assert.is(s(`""`), '');
  assert.equal(valueOf(parse(`s: "a"\n  'b' # two lines`), 's'), { kind: 'string', line: 1, column: 4, value: 'ab' });
});

Syntax('integers: decimal, negative, hex, octal, and exact beyond 2^53', () => {
  const n = (literal: string) => valueOf(parse(`n: ${literal}`), 'n') as { text: string; integer: bigint | undefined; value: number };
  assert.equal([n('0').integer, n('42').integer, n('-7').integer, n('- 7').integer], [0n, 42n, -7n, -7n]);
  assert.equal([n('0x1F').integer, n('0XfF').integer, n('-0x10').integer], [31n, 255n, -16n]);
  assert.equal([n('010').integer, n('0777').integer], [8n, 511n]);
  assert.equal(n('18446744073709551615').integer, 18446744073709551615n);
  assert.equal(n('-9223372036854775808').integer, -9223372036854775808n);
  assert.is(n('-0x10').text, '-0x10');
  assert.is(n('12').value, 12);
});

Syntax('floats: fractions, exponents, an f suffix, inf and nan in any case', () => {
  const n = (literal: string) => valueOf(parse(`n: ${literal}`), 'n') as { integer: bigint | undefined; value: number };
  const floats = ['1.5', '.5', '1.', '1e3', '1E-3', '2.5e+2', '1f', '1.5F', '-0.25', '3e0f'];
  assert.equal(floats.map((f) => n(f).value), [1.5, 0.5, 1, 1000, 0.001, 250, 1, 1.5, -0.25, 3]);
  for (const f of floats) assert.is(n(f).integer, undefined, `${f} is a float`);
  assert.equal(['inf', '-inf', 'Infinity', '-INF'].map((f) => n(f).value), [Infinity, -Infinity, Infinity, -Infinity]);
  assert.ok(Number.isNaN(n('nan').value) && Number.isNaN(n('NaN').value));
  assert.is(n('inf').integer, undefined);
  // As field names they are words like any other.
  assert.equal(parse('inf: 1 nan { }').fields.map((f) => f.name), ['inf', 'nan']);
});

Syntax('identifiers: enum names and booleans stay words for the schema to read', () => {
  const tree = parse('kind: KIND_GPU\nenable: true\noff: False\nt: t');
  assert.equal(tree.fields.map((f) => f.values[0]), [
    { kind: 'identifier', line: 1, column: 7, value: 'KIND_GPU' },
    { kind: 'identifier', line: 2, column: 9, value: 'true' },
    { kind: 'identifier', line: 3, column: 6, value: 'False' },
    { kind: 'identifier', line: 4, column: 4, value: 't' },
  ]);
});

Syntax('comments, a byte-order mark, CRLF line ends and tabs; columns count a tab as one', () => {
  const tree = parse('\uFEFF# Triton config\r\nname: "x" # trailing\r\n\t\tmax_batch_size: 8 # last line, no newline');
  assert.equal(tree.fields.map((f) => [f.name, f.line, f.column]), [['name', 2, 1], ['max_batch_size', 3, 3]]);
  assert.equal(valueOf(tree, 'max_batch_size').column, 19);
  assert.equal(parse('').fields, []);
  assert.equal(parse('  # only a comment').fields, []);
});

const Errors = suite('text format: every syntax error, at its line and column');

Errors('an unterminated string, or one that runs past its line', () => {
  throwsConfig(() => parse('name: "densenet'), 'config.pbtxt:1:7: unterminated string (a string must end on the line it starts on)');
  throwsConfig(() => parse('a: 1\nname: "two\nlines"'), 'config.pbtxt:2:7: unterminated string (a string must end on the line it starts on)');
  throwsConfig(() => parse("name: 'mixed\""), 'config.pbtxt:1:7: unterminated string (a string must end on the line it starts on)');
  throwsConfig(() => parse('name: "ends in a backslash\\'), 'config.pbtxt:1:7: unterminated string (a string must end on the line it starts on)');
});

Errors('bad escapes, at the backslash', () => {
  throwsConfig(() => parse('s: "ab\\qc"'), "config.pbtxt:1:7: unknown escape '\\q' in a string");
  throwsConfig(() => parse('s: "\\xZZ"'), "config.pbtxt:1:5: expected hex digits after '\\x'");
  throwsConfig(() => parse('s: "\\u12"'), "config.pbtxt:1:5: expected 4 hex digits after '\\u'");
  throwsConfig(() => parse('s: "\\U00110000"'), "config.pbtxt:1:5: '\\U110000' is not a Unicode scalar value");
  throwsConfig(() => parse('s: "\\udc00"'), "config.pbtxt:1:5: '\\udc00' is not a Unicode scalar value");
  throwsConfig(() => parse('s: "\\777"'), "config.pbtxt:1:5: octal escape '\\777' is more than a byte");
  throwsConfig(() => parse('s: "ok" "\\xff"'), 'config.pbtxt:1:4: the string is not valid UTF-8 (its byte escapes make no UTF-8 sequence)');
});

Errors('malformed numbers', () => {
  throwsConfig(() => parse('dims: [ 12abc ]'), "config.pbtxt:1:11: unexpected 'a' after the number '12'");
  throwsConfig(() => parse('n: 09'), "config.pbtxt:1:4: a number that starts with 0 is octal (protobuf's rule), and '09' is not");
  throwsConfig(() => parse('n: 01.5'), "config.pbtxt:1:4: a number that starts with 0 is octal (protobuf's rule), and '01.' is not");
  throwsConfig(() => parse('n: 0x'), "config.pbtxt:1:4: expected hex digits after '0x'");
  throwsConfig(() => parse('n: 1e'), "config.pbtxt:1:4: expected digits in the exponent of '1e'");
  throwsConfig(() => parse('n: 0x1g'), "config.pbtxt:1:7: unexpected 'g' after the number '0x1'");
  throwsConfig(() => parse('n: -abc'), "config.pbtxt:1:5: expected a number after '-', got identifier 'abc'");
  throwsConfig(() => parse('n: 1.5.3'), "config.pbtxt:1:7: unexpected '.' after the number '1.5'");
  throwsConfig(() => parse('n: 0x1.5'), "config.pbtxt:1:7: unexpected '.' after the number '0x1'");
});

Errors('a missing colon before a scalar, a missing value, a stray symbol', () => {
  throwsConfig(() => parse('name "x"'), `config.pbtxt:1:6: expected ':', '{' or '[' after the field name 'name', got string "x"`);
  throwsConfig(() => parse('name: }'), "config.pbtxt:1:7: expected a value for 'name', got '}'");
  throwsConfig(() => parse('name:'), "config.pbtxt:1:6: expected a value for 'name', got end of input");
  throwsConfig(() => parse('a: 1\n}'), "config.pbtxt:2:1: expected a field name or the end of input, got '}'");
  throwsConfig(() => parse('a: 1 ,, b: 2'), "config.pbtxt:1:7: expected a field name or the end of input, got ','");
  throwsConfig(() => parse('[ext.field]: 1'), "config.pbtxt:1:1: expected a field name or the end of input, got '['");
  throwsConfig(() => parse('a: @'), "config.pbtxt:1:4: unexpected character '@'");
  throwsConfig(() => parse('// not a comment'), "config.pbtxt:1:1: unexpected character '/'");
  throwsConfig(() => parse('a: 1\u0001'), 'config.pbtxt:1:5: unexpected character U+0001');
  throwsConfig(() => parse('a { b: 1 >'), "config.pbtxt:1:10: expected a field name or '}', got '>'");
  throwsConfig(() => parse('a { 5 }'), "config.pbtxt:1:5: expected a field name or '}', got number 5");
});

Errors('a message left open names where it was opened', () => {
  throwsConfig(() => parse('input [\n  {\n    name: "x"\n'), "config.pbtxt:4:1: expected a field name or '}', got end of input (the '{' at 2:3 is not closed)");
  throwsConfig(() => parse('a < b: 1'), "config.pbtxt:1:9: expected a field name or '>', got end of input (the '<' at 1:3 is not closed)");
});

Errors('lists: a missing comma, a trailing comma, a list in a list, an unclosed list', () => {
  throwsConfig(() => parse('dims: [ 1 2 ]'), "config.pbtxt:1:11: expected ',' or ']' in the list of 'dims', got number 2");
  throwsConfig(() => parse('dims: [ 1, ]'), "config.pbtxt:1:12: expected a value for 'dims', got ']'");
  throwsConfig(() => parse('dims: [ [ 1 ] ]'), "config.pbtxt:1:9: expected a value for 'dims', got '['");
  throwsConfig(() => parse('dims: [ 1,\n 2'), "config.pbtxt:2:3: expected ',' or ']' in the list of 'dims', got end of input");
  throwsConfig(() => parse('input [ { name: "a" } { name: "b" } ]'), "config.pbtxt:1:23: expected ',' or ']' in the list of 'input', got '{'");
});

Errors('ConfigError is an Error with the file, line, column and reason apart', () => {
  const err = throwsConfig(() => parseTextFormat('a: 1\n  b: "x', 'models/m/config.pbtxt'), 'models/m/config.pbtxt:2:6: unterminated string (a string must end on the line it starts on)');
  assert.instance(err, Error);
  assert.is(err.name, 'ConfigError');
  assert.equal([err.file, err.line, err.column, err.field], ['models/m/config.pbtxt', 2, 6, undefined]);
  assert.is(err.reason, 'unterminated string (a string must end on the line it starts on)');
  assert.match(String(err), /^ConfigError: models\/m\/config\.pbtxt:2:6: /);
  const json = new ConfigError('config.json', 'unknown field', { field: 'dynamic_batching.max_queue_delay' });
  assert.is(json.message, 'config.json: dynamic_batching.max_queue_delay: unknown field');
  assert.equal([json.line, json.column], [undefined, undefined]);
});

const Hostile = suite('text format: hostile input is refused quickly, never hangs or overflows');

Hostile(`nesting is bounded: ${MAX_TEXT_DEPTH} levels parse, one more is refused at its brace`, () => {
  const nested = (n: number) => 'a '.concat('{ a '.repeat(n - 1), '{ }', ' }'.repeat(n - 1));
  let tree: TextMessage = parse(nested(MAX_TEXT_DEPTH));
  let depth = 0;
  while (tree.fields.length > 0) {
    tree = tree.fields[0].values[0] as TextMessage;
    depth++;
  }
  assert.is(depth, MAX_TEXT_DEPTH);
  throwsConfig(() => parse(nested(MAX_TEXT_DEPTH + 1)), `config.pbtxt:1:${3 + 4 * MAX_TEXT_DEPTH}: messages nest deeper than ${MAX_TEXT_DEPTH} levels`);
  throwsConfig(() => parseTextFormat('a { b { c { } } }', 'f', { maxDepth: 2 }), 'f:1:11: messages nest deeper than 2 levels');
  assert.throws(() => parseTextFormat('a: 1', 'f', { maxDepth: -1 }), /maxDepth must be a non-negative integer/);
});

Hostile('10,000 nested braces (and lists of messages) fail with a ConfigError, not a stack overflow', () => {
  const started = performance.now();
  throwsConfig(() => parse('a '.concat('{ a '.repeat(10_000))), `config.pbtxt:1:${3 + 4 * MAX_TEXT_DEPTH}: messages nest deeper than ${MAX_TEXT_DEPTH} levels`);
  throwsConfig(() => parse('{'.repeat(10_000)), "config.pbtxt:1:1: expected a field name or the end of input, got '{'");
  throwsConfig(() => parse('a '.concat('[ { a '.repeat(10_000))), `config.pbtxt:1:${5 + 6 * MAX_TEXT_DEPTH}: messages nest deeper than ${MAX_TEXT_DEPTH} levels`);
  throwsConfig(() => parse('a: '.concat('-'.repeat(10_000))), "config.pbtxt:1:5: expected a number after '-', got '-'");
  assert.ok(performance.now() - started < 1000, 'took too long');
});

Hostile('a 1 MB config (thousands of inputs), a 1 MB string and 1 MB of comments parse in well under a second each', () => {
  const entry = '  { name: "input_%" data_type: TYPE_FP32 dims: [ -1, 3, 224, 224 ] reshape { shape: [ 1, 3, 224, 224 ] } }';
  const entries: string[] = [];
  let size = 0;
  for (let i = 0; size < 1 << 20; i++) {
    const e = entry.replace('%', String(i));
    entries.push(e);
    size += e.length + 2;
  }
  const big = `name: "big"\ninput [\n${entries.join(',\n')}\n]\n`;
  assert.ok(big.length >= 1 << 20);
  let started = performance.now();
  const tree = parse(big);
  assert.ok(performance.now() - started < 1500, `1 MB of fields took ${performance.now() - started} ms`);
  assert.is(tree.fields[1].values.length, entries.length);
  const last = tree.fields[1].values[entries.length - 1] as TextMessage;
  assert.is(last.line, entries.length + 2);

  started = performance.now();
  const longString = parse(`s: "${'x'.repeat(1 << 20)}"`);
  assert.is((valueOf(longString, 's') as { value: string }).value.length, 1 << 20);
  const escapes = parse(`s: "${'\\101'.repeat(1 << 18)}"`);
  assert.is((valueOf(escapes, 's') as { value: string }).value, 'A'.repeat(1 << 18));
  const comments = parse(`${'# comment\n'.repeat(1 << 17)}a: 1`);
  assert.is(comments.fields[0].line, (1 << 17) + 1);
  assert.ok(performance.now() - started < 1500, `long strings and comments took ${performance.now() - started} ms`);
});

Hostile('an unterminated string at the end of 1 MB is found, at its place', () => {
  const text = `${'a: 1\n'.repeat(200_000)}b: "never closed`;
  throwsConfig(() => parse(text), 'config.pbtxt:200001:4: unterminated string (a string must end on the line it starts on)');
});

Syntax.run();
Errors.run();
Hostile.run();
