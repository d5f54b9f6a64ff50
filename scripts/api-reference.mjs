// Writes the reference part of docs/API.md from the server's OpenAPI document, so
// the page says what the server serves:
//   node scripts/api-reference.mjs openapi.json          # rewrites docs/API.md
//   node scripts/api-reference.mjs openapi.json --check  # fails if it is out of date
// (`usage-server openapi > openapi.json` prints the document.)
import { readFileSync, writeFileSync } from 'node:fs';

const [documentPath, flag] = process.argv.slice(2);
const document = JSON.parse(readFileSync(documentPath, 'utf8'));
const page = 'docs/API.md';
const begin = '<!-- reference: generated from the OpenAPI document by scripts/api-reference.mjs -->';
const end = '<!-- end of the generated reference -->';

const refName = (ref) => ref.split('/').pop();
const oneLine = (text = '') => text.replace(/\s*\n\s*/g, ' ').replaceAll('|', '\\|').trim();

/** A schema as a short type: `License`, `string[]`, `integer (int64) ≥ 1`, `A | B`. */
function typeOf(schema) {
  if (!schema) return '';
  if (schema.$ref) return `[\`${refName(schema.$ref)}\`](#${refName(schema.$ref).toLowerCase()})`;
  if (schema.oneOf || schema.anyOf) return (schema.oneOf || schema.anyOf).map(typeOf).join(' \\| ');
  if (schema.allOf) return schema.allOf.map(typeOf).join(' & ');
  const types = [schema.type].flat().filter(Boolean);
  let text = types.includes('array') ? `${typeOf(schema.items) || 'any'}[]` : types.join(' \\| ') || 'any';
  if (schema.enum) text = schema.enum.map((value) => `\`${JSON.stringify(value)}\``).join(', ');
  if (schema.format) text += ` (${schema.format})`;
  const bounds = [];
  if (schema.minimum !== undefined) bounds.push(`≥ ${schema.minimum}`);
  if (schema.maximum !== undefined) bounds.push(`≤ ${schema.maximum}`);
  if (schema.minLength !== undefined) bounds.push(`${schema.minLength} to ${schema.maxLength ?? '…'} characters`);
  else if (schema.maxLength !== undefined) bounds.push(`at most ${schema.maxLength} characters`);
  if (schema.minItems !== undefined || schema.maxItems !== undefined) {
    bounds.push(`${schema.minItems ?? 0} to ${schema.maxItems ?? '…'} items`);
  } else if (schema.maxItems !== undefined) bounds.push(`at most ${schema.maxItems} items`);
  return bounds.length ? `${text}, ${bounds.join(', ')}` : text;
}

function bodyType(content = {}) {
  return Object.entries(content)
    .map(([mediaType, { schema }]) => `${typeOf(schema) || 'text'} (\`${mediaType}\`)`)
    .join(', ');
}

const lines = [begin, '', '## Reference', ''];
lines.push(`${oneLine(document.info.description)}`, '');
const schemes = document.components?.securitySchemes ?? {};
for (const [name, scheme] of Object.entries(schemes)) {
  lines.push(`- Credential \`${name}\`: \`Authorization: Bearer …\`, ${oneLine(scheme.description)}`);
}
lines.push('');

const methods = ['get', 'post', 'patch', 'put', 'delete'];
const tags = (document.tags ?? []).map((tag) => tag.name);
for (const tag of tags) {
  const description = document.tags.find((t) => t.name === tag)?.description;
  lines.push(`### ${tag[0].toUpperCase()}${tag.slice(1)}`, '', oneLine(description), '');
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of methods) {
      const operation = item[method];
      if (!operation || !(operation.tags ?? []).includes(tag)) continue;
      lines.push(`#### \`${method.toUpperCase()} ${path}\``, '');
      if (operation.summary) lines.push(oneLine(`${operation.summary} ${operation.description ?? ''}`), '');
      const security = (operation.security ?? []).flatMap(Object.keys);
      if (security.length) lines.push(`Credential: ${security.map((name) => `\`${name}\``).join(' or ')}.`, '');
      if (operation.parameters?.length) {
        lines.push('| parameter | in | type | required | meaning |', '| --- | --- | --- | --- | --- |');
        for (const parameter of operation.parameters) {
          lines.push(
            `| \`${parameter.name}\` | ${parameter.in} | ${typeOf(parameter.schema)} | ${parameter.required ? 'yes' : 'no'} | ${oneLine(parameter.description)} |`,
          );
        }
        lines.push('');
      }
      if (operation.requestBody) {
        const required = operation.requestBody.required ? '' : ' (optional)';
        lines.push(`Body${required}: ${bodyType(operation.requestBody.content)}. ${oneLine(operation.requestBody.description)}`.trim(), '');
      }
      lines.push('| status | meaning | body |', '| --- | --- | --- |');
      for (const [status, response] of Object.entries(operation.responses)) {
        lines.push(`| ${status} | ${oneLine(response.description)} | ${bodyType(response.content)} |`);
      }
      lines.push('');
    }
  }
}

const webhooks = Object.entries(document.webhooks ?? {});
if (webhooks.length) {
  lines.push('### Webhooks sent', '', 'Each is a signed `POST` to an endpoint that asked for its type.', '');
  for (const [name, item] of webhooks) {
    const operation = item.post;
    lines.push(`#### \`${name}\``, '', oneLine(operation.summary), '');
    lines.push('| header | meaning |', '| --- | --- |');
    for (const parameter of operation.parameters ?? []) {
      lines.push(`| \`${parameter.name}\` | ${oneLine(parameter.description)} |`);
    }
    const body = operation.requestBody.content['application/json'].schema;
    lines.push('', `Body: \`{"type": "${name}", "timestamp": "…", "data": …}\` with \`data\` a ${typeOf(body.properties.data)}.`, '');
    for (const [status, response] of Object.entries(operation.responses)) {
      lines.push(`Answer ${status}: ${oneLine(response.description)}.`, '');
    }
  }
}

lines.push('### Schemas', '');
for (const [name, schema] of Object.entries(document.components?.schemas ?? {})) {
  lines.push(`#### ${name}`, '');
  if (schema.description) lines.push(oneLine(schema.description), '');
  if (schema.properties) {
    const required = new Set(schema.required ?? []);
    lines.push('| field | type | required | meaning |', '| --- | --- | --- | --- |');
    for (const [field, property] of Object.entries(schema.properties)) {
      lines.push(`| \`${field}\` | ${typeOf(property)} | ${required.has(field) ? 'yes' : 'no'} | ${oneLine(property.description)} |`);
    }
  } else {
    lines.push(`Type: ${typeOf(schema)}.`);
  }
  lines.push('');
}
lines.push(end);

const text = readFileSync(page, 'utf8');
const start = text.indexOf(begin);
const stop = text.indexOf(end);
const before = start >= 0 ? text.slice(0, start) : `${text.trimEnd()}\n\n`;
const after = stop >= 0 ? text.slice(stop + end.length) : '\n';
const updated = `${before}${lines.join('\n')}${after}`;
if (flag === '--check') {
  if (updated !== text) {
    console.error(`${page} is out of date with the OpenAPI document: run node scripts/api-reference.mjs`);
    process.exit(1);
  }
  console.log(`${page}: the reference matches the OpenAPI document`);
} else {
  writeFileSync(page, updated);
}
