import { writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * One measured figure. A target applies to the ratio when there is a baseline (value / baseline
 * >= target) and to the value itself otherwise, unless the figure was made with targetOn 'value'
 * (an absolute target next to an informational baseline); a target is a floor, or a ceiling when
 * made with atMost (latencies, error counts). Informational figures have no target (pass null).
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

interface TargetKind {
  on: 'ratio' | 'value';
  atMost: boolean;
}

/** How each figure's target reads, for the table (the JSON rows keep their shape). */
const targetKinds = new WeakMap<BenchResult, TargetKind>();

export function result(
  scenario: string,
  metric: string,
  value: number,
  unit: string,
  opts: { baseline?: number; target?: number; targetOn?: 'ratio' | 'value'; atMost?: boolean } = {},
): BenchResult {
  const baseline = opts.baseline ?? null;
  const ratio = baseline ? round(value / baseline, 3) : null;
  const target = opts.target ?? null;
  const kind: TargetKind = { on: opts.targetOn ?? (baseline !== null ? 'ratio' : 'value'), atMost: opts.atMost ?? false };
  const measured = kind.on === 'ratio' ? ratio : value;
  const pass = target === null || measured === null ? null : kind.atMost ? measured <= target : measured >= target;
  const row: BenchResult = {
    scenario,
    metric,
    value: round(value, 1),
    unit,
    baseline: baseline === null ? null : round(baseline, 1),
    ratio,
    target,
    pass,
  };
  targetKinds.set(row, kind);
  return row;
}

function targetText(r: BenchResult): string {
  if (r.target === null) return '-';
  const kind = targetKinds.get(r) ?? { on: r.baseline !== null ? 'ratio' : 'value', atMost: false };
  const op = kind.atMost ? '<=' : '>=';
  return kind.on === 'ratio' ? `${op}${r.target}x` : `${op}${fmt(r.target)}`;
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
    targetText(r),
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

/** Whole numbers, but small fractional figures (latencies in ms) keep one decimal. */
function fmt(n: number): string {
  if (Math.abs(n) < 100 && !Number.isInteger(n)) return n.toFixed(1);
  return Math.round(n).toLocaleString('en-US');
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
