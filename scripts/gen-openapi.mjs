#!/usr/bin/env node
// Regenerates openapi/gen/*.ts from openapi/*.yaml. `--check` fails when a generated file is stale.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';

const dir = fileURLToPath(new URL('../openapi/', import.meta.url));
const check = process.argv.includes('--check');
let stale = [];
for (const f of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
  const ast = await openapiTS(new URL(`file://${dir}${f}`));
  const out = `// Generated from openapi/${f} by scripts/gen-openapi.mjs; do not edit.\n${astToString(ast)}`;
  const target = `${dir}gen/${f.replace(/\.yaml$/, '.ts')}`;
  let old = '';
  try { old = readFileSync(target, 'utf8'); } catch {}
  if (old !== out) {
    if (check) stale.push(target);
    else writeFileSync(target, out);
  }
}
if (stale.length) {
  console.error(`stale generated types (run npm run gen):\n  ${stale.join('\n  ')}`);
  process.exit(1);
}
