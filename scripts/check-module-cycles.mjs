// Fails when modules of a workspace crate import each other in a circle.
//   node scripts/check-module-cycles.mjs [CRATE_SRC_DIR…]
// A module is a file (src/a.rs or src/a/mod.rs is `a`, src/a/b.rs is `a::b`); an
// edge is a path through `crate::`, `super::`, `self::` or a submodule's name to
// another module, not its own parent or submodule (mod.rs declares those). The
// crate root (lib.rs, main.rs) only declares and re-exports, so it is left out.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const roots = process.argv.slice(2).length
  ? process.argv.slice(2)
  : ['src', ...readdirSync('crates').map((name) => join('crates', name, 'src'))];

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.rs') ? [path] : [];
  });
}

function moduleOf(root, file) {
  const parts = relative(root, file).replace(/\.rs$/, '').split('/');
  if (parts.at(-1) === 'mod') parts.pop();
  if (parts.length === 1 && ['lib', 'main'].includes(parts[0])) return '';
  return parts.join('::');
}

/** Strips comments and string literals, so only code is read. */
function code(text) {
  return text
    .replace(/\/\/[^\n]*/g, '')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/r#*"[\s\S]*?"#*/g, '""')
    .replace(/"(?:[^"\\]|\\.)*"/g, '""');
}

/** Every path a `use` item or an expression names, with braces expanded. */
function paths(source) {
  const found = [];
  const expand = (prefix, body) => {
    let depth = 0;
    let item = '';
    for (const ch of `${body},`) {
      if (ch === '{') depth++;
      if (ch === '}') depth--;
      if (ch === ',' && depth === 0) {
        const trimmed = item.trim();
        const group = trimmed.match(/^([\w:]*?)::\{([\s\S]*)\}$/);
        if (group) expand(`${prefix}${group[1]}::`, group[2]);
        else if (trimmed) found.push(prefix + trimmed.split(/\s+as\s+/)[0]);
        item = '';
      } else item += ch;
    }
  };
  for (const [, body] of source.matchAll(/\buse\s+([^;]+);/g)) expand('', body.replace(/\s+/g, ' '));
  for (const [path] of source.matchAll(/\b(?:crate|super|self)(?:::\w+)+/g)) found.push(path);
  return found;
}

let failed = false;
for (const root of roots) {
  const modules = new Map(files(root).map((file) => [moduleOf(root, file), file]));
  const edges = new Map([...modules.keys()].map((name) => [name, new Set()]));
  for (const [name, file] of modules) {
    if (name === '') continue;
    const parent = name.split('::').slice(0, -1);
    for (const path of paths(code(readFileSync(file, 'utf8')))) {
      let segments = path.split('::');
      if (segments[0] === 'crate') segments = segments.slice(1);
      else if (segments[0] === 'super') {
        const ups = segments.filter((segment) => segment === 'super').length;
        segments = [...parent.slice(0, parent.length - (ups - 1)), ...segments.slice(ups)];
      }
      else if (segments[0] === 'self') segments = [...name.split('::'), ...segments.slice(1)];
      else if (modules.has(`${name}::${segments[0]}`)) segments = [...name.split('::'), ...segments];
      else continue;
      // The longest module the path reaches.
      for (let length = segments.length; length > 0; length--) {
        const target = segments.slice(0, length).join('::');
        if (modules.has(target) && target !== '') {
          // A module and its own submodules are one unit (mod.rs declares them).
          const nested = `${target}::`.startsWith(`${name}::`) || `${name}::`.startsWith(`${target}::`);
          if (!nested) edges.get(name).add(target);
          break;
        }
      }
    }
  }
  // Tarjan's strongly connected components: any with more than one module is a circle.
  let index = 0;
  const stack = [];
  const state = new Map();
  const circles = [];
  const visit = (node) => {
    state.set(node, { index, low: index, onStack: true });
    index++;
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (!state.has(next)) {
        visit(next);
        state.get(node).low = Math.min(state.get(node).low, state.get(next).low);
      } else if (state.get(next).onStack) {
        state.get(node).low = Math.min(state.get(node).low, state.get(next).index);
      }
    }
    if (state.get(node).low === state.get(node).index) {
      const component = [];
      let member;
      do {
        member = stack.pop();
        state.get(member).onStack = false;
        component.push(member);
      } while (member !== node);
      if (component.length > 1) circles.push(component);
    }
  };
  for (const node of edges.keys()) if (node !== '' && !state.has(node)) visit(node);
  for (const circle of circles) {
    failed = true;
    console.error(`${root}: modules import each other in a circle: ${circle.sort().join(' <-> ')}`);
  }
  if (!circles.length) console.log(`${root}: ${modules.size - (modules.has('') ? 1 : 0)} modules, no import circle`);
}
process.exit(failed ? 1 : 0);
