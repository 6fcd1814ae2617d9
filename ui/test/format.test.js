import { describe, it, expect } from 'vitest';
import { errorAt, csv, visibleProperties, bytes, duration, ago } from '../src/format.js';
import { query, cell } from '../src/api.js';
import { TimestampMicrosecond, TimestampMillisecond, DateDay, Int64 } from 'apache-arrow';

describe('errorAt', () => {
  it('reads the line and column DuckDB points at', () => {
    // DuckDB's message for 'select 1\nfrom x wher y': the caret under y.
    const msg = 'Parser Error: syntax error at or near "y"\n\nLINE 2: from x wher y\n                    ^';
    expect(errorAt(msg)).toEqual({ line: 2, column: 13 });
  });
  it('reads the position tarn names', () => {
    expect(errorAt('SQL syntax error at or near "=" at line 2, column 25:\n  from trips where fare = = 2\n                          ^')).toEqual({ line: 2, column: 25 });
  });
  it('is null without a position', () => {
    expect(errorAt('Catalog Error: Table with name x does not exist!')).toBeNull();
  });
});

describe('csv', () => {
  it('quotes what needs quoting and writes nulls empty', () => {
    expect(csv([{ name: 'a' }, { name: 'b,c' }], [['1', null], ['x"y', 'line\nbreak']])).toBe('a,"b,c"\n1,\n"x""y","line\nbreak"\n');
  });
});

describe('visibleProperties', () => {
  it('never shows a secret', () => {
    const shown = Object.fromEntries(visibleProperties({ run_id: 'r1', 'param.api_key': 'k', db_password: 'p', min_miles: '1' }));
    expect(shown).toEqual({ run_id: 'r1', 'param.api_key': '••••••', db_password: '••••••', min_miles: '1' });
  });
});

describe('display', () => {
  it('formats sizes, durations and ages', () => {
    expect(bytes(512)).toBe('512 B');
    expect(bytes(1536)).toBe('1.5 KiB');
    expect(duration(2.5e9)).toBe('2.5 s');
    expect(duration(4e6)).toBe('4 ms');
    expect(ago(new Date(10_000 - 3_600_000 * 5), 10_000)).toBe('5h ago');
  });
  it('builds queries without empty values', () => {
    expect(query({ ref: 'main', cursor: undefined, sort: '', limit: 50 })).toBe('?ref=main&limit=50');
    expect(query({})).toBe('');
  });
  it('shows cells as text', () => {
    expect(cell(null)).toBeNull();
    expect(cell(12345678901234567890n)).toBe('12345678901234567890');
    expect(cell(new Date(0))).toBe('1970-01-01T00:00:00.000Z');
    expect(cell(new Uint8Array([1, 255]))).toBe('0x01ff');
    // Arrow gives timestamps and dates as milliseconds since the epoch.
    const at = Date.UTC(2026, 1, 3, 20, 47, 0);
    expect(cell(at, new TimestampMicrosecond('UTC'))).toBe('2026-02-03 20:47:00+00');
    expect(cell(at + 250, new TimestampMillisecond())).toBe('2026-02-03 20:47:00.250');
    expect(cell(Date.UTC(2026, 1, 3), new DateDay())).toBe('2026-02-03');
    expect(cell(at, new Int64())).toBe(String(at));
  });
});
