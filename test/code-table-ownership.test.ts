// Every code that reaches an SMTP client, a PMTP peer or a log's `code` field comes from
// src/codes.ts: no other module declares a union of codes, and every code literal the source
// writes (a `code` property, an error's or a reply helper's code argument) is in the table.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { isStatusCode } from '../src/codes.js';

const src = path.join(import.meta.dirname, '../src');

/** Helpers whose first string argument is a table code. */
const codeTakers = new Set(['fail', 'sendError', 'errorBody', 'replyError', 'smtpReply', 'statusOf', 'refuse']);

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return files(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

function calleeName(node: ts.CallExpression | ts.NewExpression): string | undefined {
  const callee = node.expression;
  if (ts.isIdentifier(callee)) return callee.text;
  if (ts.isPropertyAccessExpression(callee)) return callee.name.text;
  return undefined;
}

function stringLiterals(type: ts.TypeNode): string[] {
  if (ts.isLiteralTypeNode(type) && ts.isStringLiteral(type.literal)) return [type.literal.text];
  if (ts.isUnionTypeNode(type)) return type.types.flatMap(stringLiterals);
  return [];
}

interface Finding {
  readonly where: string;
  readonly what: string;
}

function scan(file: string): Finding[] {
  const text = readFileSync(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const found: Finding[] = [];
  const at = (node: ts.Node): string =>
    `${path.relative(src, file)}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
  const literal = (node: ts.Node, value: string, context: string): void => {
    if (!isStatusCode(value)) found.push({ where: at(node), what: `${context} '${value}' is not in src/codes.ts` });
  };
  const visit = (node: ts.Node): void => {
    // zod's own issue codes (`ctx.addIssue({ code: 'custom' })`) are its API, not ours
    if (ts.isCallExpression(node) && calleeName(node) === 'addIssue') return;
    // a type of its own for codes: `type FooCode = 'a' | 'b'`
    if (ts.isTypeAliasDeclaration(node) && /Code$/.test(node.name.text) && stringLiterals(node.type).length > 0) {
      found.push({ where: at(node), what: `type ${node.name.text} declares codes outside src/codes.ts` });
    }
    // `code: 'x'` in an object, and `code: 'x' | 'y'` in a type
    if (ts.isPropertyAssignment(node) && node.name.getText(source) === 'code' && ts.isStringLiteral(node.initializer)) {
      literal(node, node.initializer.text, 'code');
    }
    if (ts.isPropertySignature(node) && node.name.getText(source) === 'code' && node.type) {
      for (const value of stringLiterals(node.type)) literal(node, value, 'code type');
    }
    if (ts.isCallExpression(node) || ts.isNewExpression(node)) {
      const name = calleeName(node) ?? '';
      const args = node.arguments ?? ts.factory.createNodeArray();
      const first = args.find((a) => ts.isStringLiteral(a));
      const takesCode =
        codeTakers.has(name) ||
        (ts.isNewExpression(node) && /Error$/.test(name) && args[0] !== undefined && ts.isStringLiteral(args[0]));
      if (takesCode && first && ts.isStringLiteral(first) && /^[a-z][a-z0-9_]*$/.test(first.text))
        literal(node, first.text, `${name}()`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('the code table owns every code', () => {
  it('finds no code outside src/codes.ts', () => {
    const findings = files(src)
      .filter((f) => path.basename(f) !== 'codes.ts')
      .flatMap(scan)
      .map((f) => `${f.where}: ${f.what}`);
    expect(findings).toEqual([]);
  });

  it('would catch a code the table lacks', () => {
    const probe = path.join(import.meta.dirname, 'fixtures', 'stray-code.ts.txt');
    const findings = scan(probe);
    expect(findings.map((f) => f.what)).toEqual([
      'type StrayCode declares codes outside src/codes.ts',
      "code 'no_such_code' is not in src/codes.ts",
      "fail() 'made_up' is not in src/codes.ts",
      "ProbeError() 'invented_here' is not in src/codes.ts",
    ]);
  });
});
