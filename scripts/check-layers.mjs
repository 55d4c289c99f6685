// The layering rule of docs/architecture.md, checked on every import in src/ (type imports too):
// a folder imports only lower layers, stages never import each other, and the PMTP protocol core
// stays pure. Run by `npm test`'s pretest; prints each broken rule with file and import.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** Lowest first. A folder may import lower layers and itself; same-layer imports need an `also` entry. */
const layers = [
  { name: 'foundation', units: ['codes.ts', 'config', 'log.ts'], also: { 'log.ts': ['config'], config: ['codes.ts'] } },
  { name: 'libraries', units: ['dns', 'net', 'native/protocol'] },
  { name: 'mail records', units: ['mail'] },
  {
    name: 'plumbing',
    units: ['spool', 'queue', 'translate', 'policy', 'observability'],
    also: { queue: ['spool'], observability: ['queue', 'spool'] },
  },
  // stages hand off through the queue only: none imports another
  { name: 'stages', units: ['inbound-smtp', 'dispatch', 'native', 'mailbox', 'outbound-smtp'] },
  { name: 'operator views', units: ['admin'] },
  { name: 'assembler', units: ['gateway.ts'] },
  { name: 'staging', units: ['staging'] },
  { name: 'command line', units: ['cli'] },
];

/** Inside the PMTP stage, lowest first: stores and keys, the client, then what uses them. */
const nativeLayers = [
  ['native/keys', 'native/state'],
  ['native/client'],
  ['native'],
  ['native/outbox', 'native/decision'],
  ['native/server', 'native/workers'],
  ['native/service'],
];

/** The protocol core is pure: no sockets, files, Redis or queues, so a second implementation can lift it whole. */
const pureUnits = new Set(['native/protocol']);
const impureModules =
  /^(node:)?(fs|fs\/promises|net|tls|http|https|http2|dns|child_process)$|^(ioredis|bullmq|fastify|smtp-server|nodemailer)$/;

const src = path.resolve(process.argv[2] ?? 'src');

function unitOf(file) {
  const rel = path.relative(src, file).split(path.sep);
  if (rel.length === 1) return rel[0];
  if (rel[0] === 'native' && rel.length > 2) return `native/${rel[1]}`;
  return rel[0];
}

function rank(unit) {
  const layer = layers.findIndex(
    (l) => l.units.includes(unit) || (unit.startsWith('native/') && l.units.includes('native')),
  );
  return layer;
}

function allowed(from, to) {
  if (from === to) return true;
  const a = rank(from);
  const b = rank(to);
  if (a === -1 || b === -1) return false;
  if (b < a) return true;
  if (a !== b) return false;
  const inNative = (u) => u === 'native' || u.startsWith('native/');
  if (inNative(from) && inNative(to)) {
    const level = (u) => nativeLayers.findIndex((group) => group.includes(u));
    return level(from) !== -1 && level(to) !== -1 && level(to) < level(from);
  }
  return (layers[a].also?.[from] ?? []).includes(to);
}

function sourceFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.c?ts$/.test(e.name) ? [p] : [];
  });
}

const problems = [];
for (const file of sourceFiles(src)) {
  const from = unitOf(file);
  if (rank(from) === -1)
    problems.push(`${path.relative('.', file)}: folder ${from} is in no layer (add it to scripts/check-layers.mjs)`);
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  for (const { fileName } of importedFiles) {
    if (!fileName.startsWith('.')) {
      if (pureUnits.has(from) && impureModules.test(fileName))
        problems.push(`${path.relative('.', file)}: the protocol core must stay pure, but imports ${fileName}`);
      continue;
    }
    const target = path
      .resolve(path.dirname(file), fileName)
      .replace(/\.js$/, '.ts')
      .replace(/\.cjs$/, '.cts');
    const to = unitOf(target);
    if (!allowed(from, to)) problems.push(`${path.relative('.', file)}: ${from} may not import ${to} (${fileName})`);
  }
}

if (problems.length > 0) {
  console.error(`layering: ${problems.length} import(s) break docs/architecture.md's rule:\n${problems.join('\n')}`);
  process.exit(1);
}
console.log('layering: every import in src/ points down');
