// Gives the names the web build's wasm and its glue share privately short names:
//   node scripts/short-wasm-names.mjs DIR/usage_telemetry_bg.wasm DIR/usage_telemetry.js [more .js/.d.ts]
//
// wasm-bindgen names every import `__wbg_<name>_<16 hex digits>` and every closure
// shim `wasm_bindgen__convert__closures_____invoke__h<16 hex digits>`. The hashes
// do not compress (about 2 KB of the wasm and 1 KB of the glue, gzip -9). Only the
// glue refers to these names, so both are renamed together: imports to `a`, `b`, …,
// the closure shims to `$a`, `$b`, …. The API's exports, `memory` and wasm-bindgen's
// `__wbindgen_*` exports keep their names (`init()` returns them). Emscripten does
// the same with binaryen's --minify-imports-and-exports, which renames every export.
//
// Fails (exit 1), changing nothing, when the glue does not name an import exactly
// once or does not name a closure shim at all, so a wasm-bindgen that changes its
// glue breaks the build, not the page.
import { readFileSync, writeFileSync } from 'node:fs';

const [wasmPath, gluePath, ...otherPaths] = process.argv.slice(2);
if (!wasmPath || !gluePath) {
  console.error('usage: short-wasm-names.mjs MODULE.wasm GLUE.js [FILE...]');
  process.exit(2);
}

const IMPORT_SECTION = 2;
const EXPORT_SECTION = 7;
const PRIVATE_EXPORT = /^wasm_bindgen__convert__closures_____invoke__h[0-9a-f]+$/;

/** A reader over the module's bytes (the binary format's LEB128 and names). */
class Reader {
  constructor(bytes, at = 0) {
    this.bytes = bytes;
    this.at = at;
  }
  byte() {
    return this.bytes[this.at++];
  }
  unsigned() {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = this.byte();
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (byte < 0x80) return value;
    }
  }
  /** Skips a signed LEB128 (heap types). */
  skipSigned() {
    while (this.byte() & 0x80);
  }
  name() {
    const length = this.unsigned();
    const text = new TextDecoder().decode(this.bytes.subarray(this.at, this.at + length));
    this.at += length;
    return text;
  }
  /** Skips a value or reference type: one byte, or 0x63/0x64 and a heap type. */
  skipType() {
    const type = this.byte();
    if (type === 0x63 || type === 0x64) this.skipSigned();
  }
  skipLimits() {
    const flags = this.byte();
    this.unsigned();
    if (flags & 1) this.unsigned();
  }
  /** Skips an import's description and returns its bytes. */
  importDescription() {
    const start = this.at;
    const kind = this.byte();
    if (kind === 0) this.unsigned(); // function: type index
    else if (kind === 1) { this.skipType(); this.skipLimits(); } // table
    else if (kind === 2) this.skipLimits(); // memory
    else if (kind === 3) { this.skipType(); this.byte(); } // global: type, mutability
    else if (kind === 4) { this.byte(); this.unsigned(); } // tag: attribute, type index
    else throw new Error(`import of unknown kind ${kind} at byte ${start}`);
    return this.bytes.subarray(start, this.at);
  }
}

function unsignedBytes(value) {
  const out = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return out;
}

function nameBytes(text) {
  const encoded = new TextEncoder().encode(text);
  return [...unsignedBytes(encoded.length), ...encoded];
}

/** `a` … `z`, `A` … `Z`, then two letters: short, and a valid JavaScript name. */
function shortName(index, prefix = '') {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  let name = '';
  do {
    name = letters[index % letters.length] + name;
    index = Math.floor(index / letters.length) - 1;
  } while (index >= 0);
  return prefix + name;
}

const renames = new Map();

function renameImports(payload) {
  const reader = new Reader(payload);
  const count = reader.unsigned();
  const out = unsignedBytes(count);
  for (let i = 0; i < count; i++) {
    const module = reader.name();
    const field = reader.name();
    const description = reader.importDescription();
    const short = shortName(i);
    renames.set(field, short);
    out.push(...nameBytes(module), ...nameBytes(short), ...description);
  }
  return out;
}

function renameExports(payload) {
  const reader = new Reader(payload);
  const count = reader.unsigned();
  const out = unsignedBytes(count);
  let renamed = 0;
  for (let i = 0; i < count; i++) {
    let name = reader.name();
    const kind = reader.byte();
    const index = reader.unsigned();
    if (PRIVATE_EXPORT.test(name)) {
      const short = shortName(renamed++, '$');
      renames.set(name, short);
      name = short;
    }
    out.push(...nameBytes(name), kind, ...unsignedBytes(index));
  }
  return out;
}

const wasm = readFileSync(wasmPath);
const reader = new Reader(wasm, 8);
const pieces = [wasm.subarray(0, 8)];
while (reader.at < wasm.length) {
  const start = reader.at;
  const id = reader.byte();
  const size = reader.unsigned();
  const payload = wasm.subarray(reader.at, reader.at + size);
  reader.at += size;
  if (id === IMPORT_SECTION || id === EXPORT_SECTION) {
    const body = id === IMPORT_SECTION ? renameImports(payload) : renameExports(payload);
    pieces.push(Uint8Array.from([id, ...unsignedBytes(body.length), ...body]));
  } else {
    pieces.push(wasm.subarray(start, reader.at));
  }
}

// One pass over each file: a name of the glue's is replaced only as a whole word.
// (With nothing to rename, the pattern would match every word boundary.)
const pattern = renames.size > 0 ? new RegExp(`\\b(${[...renames.keys()].join('|')})\\b`, 'g') : /(?!)/g;
const found = new Map();
const rewritten = [gluePath, ...otherPaths].map((path) => {
  const text = readFileSync(path, 'utf8').replace(pattern, (name) => {
    if (path === gluePath) found.set(name, (found.get(name) ?? 0) + 1);
    return renames.get(name);
  });
  return [path, text];
});
const missing = [...renames.keys()].filter((name) => !found.has(name));
if (missing.length > 0) {
  console.error(`short-wasm-names: not in ${gluePath}: ${missing.join(', ')}`);
  process.exit(1);
}
const imports = [...renames.keys()].filter((name) => !PRIVATE_EXPORT.test(name));
const repeated = imports.filter((name) => found.get(name) !== 1);
if (repeated.length > 0) {
  console.error(`short-wasm-names: more than once in ${gluePath}: ${repeated.join(', ')}`);
  process.exit(1);
}
writeFileSync(wasmPath, Buffer.concat(pieces));
for (const [path, text] of rewritten) writeFileSync(path, text);
