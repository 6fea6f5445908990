/**
 * series.ts — the one shape every compression data source returns: a named,
 * labelled column pair of timestamps and values. Plain data on purpose, so the
 * compression bench can feed any chunk codec without knowing where a series
 * came from.
 */
import { OtlpdbError, assert } from '../../src/errors.js';

/**
 * Series is one metric stream: `values[i]` was sampled at `timestampsMs[i]`.
 * Invariant: both columns have the same length and timestamps never decrease.
 */
export interface Series {
  name: string;
  labels: Record<string, string>;
  timestampsMs: Float64Array;
  values: Float64Array;
}

/** assertSeries checks a Series' invariants; a data source calls it on what it returns, a reader on what it loads. */
export function assertSeries(series: Series): void {
  assert(series.name.length > 0, 'series name is not empty');
  assert(series.timestampsMs.length === series.values.length, 'series columns have one length');
  for (let i = 1; i < series.timestampsMs.length; i++) {
    assert(series.timestampsMs[i]! >= series.timestampsMs[i - 1]!, 'series timestamps never decrease');
  }
}

/** SERIES_FILE_FORMAT names the JSON layout below, so a reader refuses a file it does not know. */
export const SERIES_FILE_FORMAT = 'otlpdb.compression-series.v1';

/**
 * SeriesFile is a capture saved for replay: plain JSON arrays, one object per
 * series. JSON writes each double in its shortest exact form, so values and
 * timestamps survive the round trip bit for bit (non-finite numbers cannot be
 * written; sources leave them out).
 */
export interface SeriesFile {
  format: typeof SERIES_FILE_FORMAT;
  /** Where the capture came from and how it was taken: free-form, for the reader. */
  meta: Record<string, string | number | boolean>;
  series: { name: string; labels: Record<string, string>; timestampsMs: number[]; values: number[] }[];
}

/** seriesToFile turns series into the JSON-ready SeriesFile. */
export function seriesToFile(series: readonly Series[], meta: SeriesFile['meta']): SeriesFile {
  return {
    format: SERIES_FILE_FORMAT,
    meta,
    series: series.map((s) => {
      assertSeries(s);
      for (const v of s.values) assert(Number.isFinite(v), 'a saved value is finite');
      return { name: s.name, labels: s.labels, timestampsMs: Array.from(s.timestampsMs), values: Array.from(s.values) };
    }),
  };
}

function invalid(message: string, details: Record<string, unknown> = {}): OtlpdbError {
  return new OtlpdbError('ERR_INVALID_ARGUMENT', `series file: ${message}`, details);
}

function numberColumn(raw: unknown, what: string, index: number): Float64Array {
  if (!Array.isArray(raw) || !raw.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw invalid(`${what} of series ${index} is not an array of finite numbers`, { index });
  }
  return Float64Array.from(raw as number[]);
}

/** seriesFromFile parses a SeriesFile's text back into series; a malformed file is ERR_INVALID_ARGUMENT, not a crash. */
export function seriesFromFile(text: string): { meta: SeriesFile['meta']; series: Series[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw invalid('not JSON', { cause: String(err) });
  }
  if (typeof parsed !== 'object' || parsed === null) throw invalid('not an object');
  const file = parsed as Partial<Record<keyof SeriesFile, unknown>>;
  if (file.format !== SERIES_FILE_FORMAT) throw invalid('unknown format', { format: file.format });
  if (!Array.isArray(file.series)) throw invalid('series is not an array');
  const meta = typeof file.meta === 'object' && file.meta !== null ? (file.meta as SeriesFile['meta']) : {};
  const series = file.series.map((raw: unknown, index): Series => {
    if (typeof raw !== 'object' || raw === null) throw invalid(`series ${index} is not an object`, { index });
    const entry = raw as Record<string, unknown>;
    if (typeof entry.name !== 'string' || entry.name.length === 0) throw invalid(`series ${index} has no name`, { index });
    const labels = entry.labels;
    if (typeof labels !== 'object' || labels === null || !Object.values(labels).every((v) => typeof v === 'string')) {
      throw invalid(`labels of series ${index} are not strings`, { index });
    }
    const s: Series = {
      name: entry.name,
      labels: { ...(labels as Record<string, string>) },
      timestampsMs: numberColumn(entry.timestampsMs, 'timestampsMs', index),
      values: numberColumn(entry.values, 'values', index),
    };
    if (s.timestampsMs.length !== s.values.length) throw invalid(`series ${index} has columns of two lengths`, { index });
    for (let i = 1; i < s.timestampsMs.length; i++) {
      if (s.timestampsMs[i]! < s.timestampsMs[i - 1]!) throw invalid(`timestamps of series ${index} decrease`, { index });
    }
    return s;
  });
  return { meta, series };
}
