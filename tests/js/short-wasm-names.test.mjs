// scripts/short-wasm-names.mjs on a small module built here byte by byte: the
// renamed pair still links and runs, the public exports keep their names, and a
// glue that does not name an import leaves both files untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const script = new URL('../../scripts/short-wasm-names.mjs', import.meta.url).pathname;
const GLUE_MODULE = './usage_telemetry_bg.js';
const IMPORTS = ['__wbg_log_0123456789abcdef', '__wbg_now_fedcba9876543210'];
const SHIM = 'wasm_bindgen__convert__closures_____invoke__h0123456789abcdef';

const bytes = (text) => [...new TextEncoder().encode(text)];
const name = (text) => [bytes(text).length, ...bytes(text)];
const section = (id, payload) => [id, payload.length, ...payload];

/** Imported functions `() -> ()`; `classifyHost` and the shim call each. */
function module(fields = IMPORTS, shim = SHIM) {
  const type = section(1, [1, 0x60, 0, 0]);
  const imports = section(2, [fields.length, ...fields.flatMap((field) => [...name(GLUE_MODULE), ...name(field), 0, 0])]);
  const functions = section(3, [1, 0]);
  const own = fields.length;
  const exports = section(7, [2, ...name('classifyHost'), 0, own, ...name(shim), 0, own]);
  const body = [0, ...fields.flatMap((_, at) => [0x10, at]), 0x0b];
  const code = section(10, [1, body.length, ...body]);
  return Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...type, ...imports, ...functions, ...exports, ...code]);
}

/** The shape of wasm-bindgen's glue: the imports as keys, the shim called by name. */
function glue(imports = IMPORTS) {
  return [
    `const imports = { '${GLUE_MODULE}': { ${imports.map((field, at) => `${field}: () => calls.push(${at})`).join(', ')} } };`,
    `function invoke(wasm) { wasm.${SHIM}(); }`,
  ].join('\n');
}

async function withFiles(glueText, run, fields = IMPORTS, shim = SHIM) {
  const dir = await mkdtemp(join(tmpdir(), 'short-names-'));
  try {
    const wasmPath = join(dir, 'module.wasm');
    const gluePath = join(dir, 'glue.js');
    const typesPath = join(dir, 'module.d.ts');
    await writeFile(wasmPath, module(fields, shim));
    await writeFile(gluePath, glueText);
    await writeFile(typesPath, `export const ${SHIM}: () => void;\nexport const classifyHost: () => void;\n`);
    await run({ wasmPath, gluePath, typesPath });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('imports and closure shims get short names in the wasm, the glue and the types together', async () => {
  await withFiles(glue(), async ({ wasmPath, gluePath, typesPath }) => {
    execFileSync(process.execPath, [script, wasmPath, gluePath, typesPath]);
    const renamed = new WebAssembly.Module(await readFile(wasmPath));
    assert.deepEqual(WebAssembly.Module.imports(renamed), [
      { module: GLUE_MODULE, name: 'a', kind: 'function' },
      { module: GLUE_MODULE, name: 'b', kind: 'function' },
    ]);
    assert.deepEqual(WebAssembly.Module.exports(renamed).map((e) => e.name), ['classifyHost', '$a']);

    const glueText = await readFile(gluePath, 'utf8');
    assert.match(glueText, /\{ a: \(\) => calls\.push\(0\), b: \(\) => calls\.push\(1\) \}/);
    assert.match(glueText, /wasm\.\$a\(\)/);
    assert.doesNotMatch(glueText, /[0-9a-f]{16}/);
    assert.equal(await readFile(typesPath, 'utf8'), 'export const $a: () => void;\nexport const classifyHost: () => void;\n');

    // The pair links as the renamed glue provides it, and both exports run.
    const calls = [];
    const instance = new WebAssembly.Instance(renamed, {
      [GLUE_MODULE]: { a: () => calls.push('log'), b: () => calls.push('now') },
    });
    instance.exports.classifyHost();
    instance.exports.$a();
    assert.deepEqual(calls, ['log', 'now', 'log', 'now']);
  });
});

test('a glue that names an import twice, or not at all, fails the build and changes nothing', async () => {
  for (const [imports, error] of [
    [IMPORTS.slice(0, 1), /not in .*glue\.js: __wbg_now_fedcba9876543210/],
    [[...IMPORTS, IMPORTS[1]], /more than once in .*glue\.js: __wbg_now_fedcba9876543210$/m],
  ]) {
    await refusedWith(glue(imports), error);
  }
});

async function refusedWith(glueText, error) {
  await withFiles(glueText, async ({ wasmPath, gluePath }) => {
    const before = await readFile(wasmPath);
    const run = spawnSync(process.execPath, [script, wasmPath, gluePath], { encoding: 'utf8' });
    assert.equal(run.status, 1);
    assert.match(run.stderr, error);
    assert.deepEqual(await readFile(wasmPath), before);
    assert.equal(await readFile(gluePath, 'utf8'), glueText);
  });
}

test('a module with nothing private to rename leaves the glue as it is', async () => {
  const glueText = `const imports = { '${GLUE_MODULE}': {} };\nfunction invoke(wasm) { wasm.flush(); }`;
  await withFiles(glueText, async ({ wasmPath, gluePath }) => {
    execFileSync(process.execPath, [script, wasmPath, gluePath]);
    assert.equal(await readFile(gluePath, 'utf8'), glueText);
    const renamed = new WebAssembly.Module(await readFile(wasmPath));
    assert.deepEqual(WebAssembly.Module.imports(renamed), []);
    assert.deepEqual(WebAssembly.Module.exports(renamed).map((e) => e.name), ['classifyHost', 'flush']);
  }, [], 'flush');
});
