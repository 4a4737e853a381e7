/**
 * How the bench measures and prints: wall-clock timing, the median of a few repetitions,
 * ratios against a baseline row, and plain-text tables. The bench reports; it never judges.
 */
import { performance } from "node:perf_hooks";

/** Runs `work` and returns its result with the wall time in milliseconds. */
export async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await work();
  return { result, ms: performance.now() - started };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of no measurements");
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export function milliseconds(ms: number): string {
  return ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`;
}

/** `value / baseline` as "2.41x". */
export function ratio(value: number, baseline: number): string {
  if (baseline <= 0 || !Number.isFinite(value / baseline)) return "n/a";
  return `${(value / baseline).toFixed(2)}x`;
}

/** A table with a header row, columns padded to their widest cell, numbers right-aligned. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const numeric = /^[-\d.,]+( ?(ms|x))?$/;
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => {
        const width = widths[column] ?? cell.length;
        return numeric.test(cell) ? cell.padStart(width) : cell.padEnd(width);
      })
      .join("  ")
      .trimEnd();
  const rule = widths.map((width) => "-".repeat(width)).join("  ");
  return [line(header), rule, ...rows.map(line)].join("\n");
}
