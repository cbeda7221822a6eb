#!/usr/bin/env node
// The structure of the code in figures anyone can check (issue 14's closing note):
// the largest files and functions, wide lines, and the import graph between folders with
// its cycles. Reads the tracked .ts sources (tests and generated code left out) with the
// TypeScript compiler's parser; runs no code of ours.
//   node scripts/structure.mjs [--top N] [--json]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const args = process.argv.slice(2);
const top = Number(args[args.indexOf('--top') + 1]) || 15;
const asJson = args.includes('--json');
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

const files = execFileSync('git', ['ls-files', '*.ts'], { cwd: root, encoding: 'utf8' })
  .split('\n')
  .filter((f) => f && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'))
  .filter((f) => !f.startsWith('test/') && !f.startsWith('crds/generated/'));

/** The unit of the import graph: the top folder, or controller/<kind> and connectors/<layer>. */
function unitOf(file) {
  const parts = file.split('/');
  if (parts.length === 1) return '.';
  if (['controller', 'connectors'].includes(parts[0]) && parts.length > 2)
    return `${parts[0]}/${parts[1]}`;
  return parts[0];
}

const fileSizes = [];
const functions = [];
const edges = new Map();
let wide100 = 0;
let wide200 = 0;
let totalLines = 0;

for (const file of files) {
  const text = readFileSync(path.join(root, file), 'utf8');
  const lines = text.split('\n');
  totalLines += lines.length;
  fileSizes.push({ file, lines: lines.length });
  for (const line of lines) {
    if (line.length > 100) wide100++;
    if (line.length > 200) wide200++;
  }
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const lineOf = (pos) => source.getLineAndCharacterOfPosition(pos).line;
  const visit = (node, owner) => {
    let name;
    if (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node))
      name = node.name?.getText(source);
    else if (ts.isConstructorDeclaration(node)) name = 'constructor';
    else if (
      (ts.isArrowFunction(node) || ts.isFunctionExpression(node)) &&
      ts.isVariableDeclaration(node.parent)
    ) {
      name = node.parent.name.getText(source);
    }
    if (name && node.body) {
      const length = lineOf(node.getEnd()) - lineOf(node.getStart(source)) + 1;
      functions.push({
        name: owner ? `${owner}.${name}` : name,
        file,
        line: lineOf(node.getStart(source)) + 1,
        lines: length,
      });
    }
    const nextOwner = ts.isClassDeclaration(node) && node.name ? node.name.text : owner;
    ts.forEachChild(node, (child) => visit(child, nextOwner));
  };
  visit(source, undefined);
  for (const statement of source.statements) {
    const spec =
      (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) &&
      statement.moduleSpecifier;
    if (!spec || !ts.isStringLiteral(spec) || !spec.text.startsWith('.')) continue;
    const target = path.relative(root, path.resolve(root, path.dirname(file), spec.text));
    const from = unitOf(file);
    const to = unitOf(target);
    if (from === to) continue;
    const key = `${from} -> ${to}`;
    edges.set(key, (edges.get(key) ?? 0) + 1);
  }
}

/** Pairs of units that import each other, directly or through others (strongly connected). */
function cycles() {
  const graph = new Map();
  for (const key of edges.keys()) {
    const [from, to] = key.split(' -> ');
    if (!graph.has(from)) graph.set(from, new Set());
    graph.get(from).add(to);
  }
  const reach = (start) => {
    const seen = new Set();
    const stack = [start];
    while (stack.length) {
      for (const next of graph.get(stack.pop()) ?? []) {
        if (seen.has(next)) continue;
        seen.add(next);
        stack.push(next);
      }
    }
    return seen;
  };
  const reachable = new Map([...graph.keys()].map((unit) => [unit, reach(unit)]));
  const groups = new Map();
  for (const [unit, seen] of reachable) {
    if (!seen.has(unit)) continue;
    const group = [...seen]
      .filter((other) => reachable.get(other)?.has(unit))
      .sort()
      .join(' <-> ');
    groups.set(group, true);
  }
  return [...groups.keys()];
}

fileSizes.sort((a, b) => b.lines - a.lines);
functions.sort((a, b) => b.lines - a.lines);
const report = {
  files: files.length,
  lines: totalLines,
  linesOver100: wide100,
  linesOver200: wide200,
  functionsOver60: functions.filter((f) => f.lines > 60).length,
  largestFiles: fileSizes.slice(0, top),
  largestFunctions: functions.slice(0, top),
  importGraph: Object.fromEntries([...edges.entries()].sort()),
  cycles: cycles(),
};
if (asJson) {
  console.log(JSON.stringify(report, null, 2));
} else {
  console.log(
    `${report.files} source files, ${report.lines} lines; ${wide100} lines over 100 characters, ${wide200} over 200`,
  );
  console.log(`${report.functionsOver60} functions over 60 lines`);
  console.log('\nlargest files:');
  for (const f of report.largestFiles) console.log(`  ${String(f.lines).padStart(5)}  ${f.file}`);
  console.log('\nlargest functions:');
  for (const f of report.largestFunctions)
    console.log(`  ${String(f.lines).padStart(5)}  ${f.name} (${f.file}:${f.line})`);
  console.log('\nimports between folders (count of import statements):');
  for (const [edge, count] of Object.entries(report.importGraph))
    console.log(`  ${edge} (${count})`);
  console.log(`\ncycles: ${report.cycles.length ? '' : 'none'}`);
  for (const group of report.cycles) console.log(`  ${group}`);
}
