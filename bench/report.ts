import { writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * One measured figure. A target applies to the ratio when there is a baseline (value / baseline
 * >= target) and to the value itself otherwise; informational figures have no target (pass null).
 */
export interface BenchResult {
  scenario: string;
  metric: string;
  value: number;
  unit: string;
  baseline: number | null;
  ratio: number | null;
  target: number | null;
  pass: boolean | null;
}

export function result(
  scenario: string,
  metric: string,
  value: number,
  unit: string,
  opts: { baseline?: number; target?: number } = {},
): BenchResult {
  const baseline = opts.baseline ?? null;
  const ratio = baseline ? round(value / baseline, 3) : null;
  const target = opts.target ?? null;
  const measured = baseline !== null ? ratio : value;
  const pass = target === null || measured === null ? null : measured >= target;
  return { scenario, metric, value: round(value, 1), unit, baseline: baseline === null ? null : round(baseline, 1), ratio, target, pass };
}

export function printTable(results: BenchResult[]): void {
  const header = ['scenario', 'metric', 'value', 'unit', 'baseline', 'ratio', 'target', 'pass'];
  const rows = results.map((r) => [
    r.scenario,
    r.metric,
    fmt(r.value),
    r.unit,
    r.baseline === null ? '-' : fmt(r.baseline),
    r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`,
    r.target === null ? '-' : r.baseline !== null ? `>=${r.target}x` : `>=${fmt(r.target)}`,
    r.pass === null ? '-' : r.pass ? 'PASS' : 'FAIL',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i >= 2 && i !== 3 && i !== 7 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ');
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)];
  process.stdout.write(`\n${out.join('\n')}\n`);
}

export function writeResults(results: BenchResult[]): string {
  const file = path.join(__dirname, 'results.json');
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
