/** Result tables (console and markdown), pass/miss checks and result files shared by the benchmarks. */
import os from 'node:os';
import { renameSync, writeFileSync } from 'node:fs';

export interface Row {
  metric: string;
  measured: string;
  target: string;
  result: string;
}

export interface Check {
  name: string;
  value: number;
  op: '<=' | '>=';
  target: number;
  pass: boolean;
}

/** Collects table rows; `check` rows also record a Check, so a missed target is reported, never an error. */
export function rowBuilder() {
  const rows: Row[] = [];
  const checks: Check[] = [];
  const info = (metric: string, measured: string) => rows.push({ metric, measured, target: '—', result: '' });
  const check = (metric: string, value: number, measured: string, op: Check['op'], target: number, targetText: string) => {
    const pass = op === '<=' ? value <= target : value >= target;
    checks.push({ name: metric, value, op, target, pass });
    rows.push({ metric, measured, target: `${op === '<=' ? '≤' : '≥'} ${targetText}`, result: pass ? 'PASS' : 'MISS' });
  };
  return { rows, checks, info, check };
}

export const ROW_HEAD = ['metric', 'measured', 'target', 'result'];
export const rowCells = (rows: Row[]) => rows.map((r) => [r.metric, r.measured, r.target, r.result]);

/**
 * A plain-text table for the console. `ruleOverhang`: how far the rule under the head sticks out past the
 * widest line (the two benchmarks always drew it differently; kept so their console output stays as it was).
 */
export function textTable(head: string[], rows: string[][], ruleOverhang = 2): string {
  const all = [head, ...rows];
  const w = head.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd();
  return [line(head), '-'.repeat(w.reduce((a, b) => a + b + 2, 0) - 2 + ruleOverhang), ...rows.map(line)].join('\n');
}

export function mdTable(head: string[], rows: string[][]): string[] {
  const esc = (s: string) => s.replaceAll('|', '\\|');
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)];
}

/** The start of each result's metadata (the same keys, in the same order, in both benchmarks' JSON). */
export function machineMeta() {
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
  };
}

/** A reader (or an interrupted run) never sees a half-written result file. */
export function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}
