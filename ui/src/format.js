// Display helpers.
export function ago(t, now = Date.now()) {
  if (!t) return '';
  const s = Math.max(0, Math.round((now - new Date(t).getTime()) / 1000));
  if (s < 60) return s + 's ago';
  if (s < 3600) return Math.floor(s / 60) + 'm ago';
  if (s < 86400) return Math.floor(s / 3600) + 'h ago';
  return Math.floor(s / 86400) + 'd ago';
}

export function bytes(n) {
  if (n === undefined || n === null) return '';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0, v = n;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return (i ? v.toFixed(1) : String(v)) + ' ' + u[i];
}

export function duration(ns) {
  if (!ns) return '';
  const ms = ns / 1e6;
  if (ms < 1000) return Math.round(ms) + ' ms';
  const s = ms / 1000;
  if (s < 60) return s.toFixed(1) + ' s';
  return Math.floor(s / 60) + 'm ' + Math.round(s % 60) + 's';
}

export const short = (h) => (h || '').slice(0, 10);

export function num(n) { return n === undefined || n === null ? '' : Number(n).toLocaleString('en-US'); }

// SECRET says which property names hold secrets: never shown.
const SECRET = /secret|token|password|passwd|credential|api[_-]?key|private/i;
export function visibleProperties(props) {
  return Object.entries(props || {}).map(([k, v]) => [k, SECRET.test(k) ? '••••••' : v]);
}

// csv is rows as RFC 4180 text.
export function csv(columns, rows) {
  const q = (v) => (v === null ? '' : /[",\n\r]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v);
  return [columns.map((c) => q(c.name)).join(','), ...rows.map((r) => r.map(q).join(','))].join('\n') + '\n';
}

// errorAt finds the position an error names: tarn's "at line 3, column
// 7", or DuckDB's "LINE 3: ..." and a caret line; null when none.
export function errorAt(message) {
  const t = /at line (\d+), column (\d+)/.exec(message || '');
  if (t) return { line: Number(t[1]), column: Number(t[2]) };
  const m = /LINE (\d+):( ?)(.*)\n(\s*)\^/.exec(message || '');
  if (!m) return null;
  const prefix = ('LINE ' + m[1] + ':' + m[2]).length;
  return { line: Number(m[1]), column: Math.max(1, m[4].length - prefix + 1) };
}

// cellText renders a JSON value of a row as grid text: null stays null,
// nested values (lists, structs, maps) become their JSON.
export function cellText(v) {
  if (v === null || v === undefined) return null;
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

// rowDiffSummary says what a row diff (GET /v1/tables/{table}/diff)
// found, or why it has no preview.
export function rowDiffSummary(d) {
  if (d.reason) return d.reason === 'schema changed' ? 'No row preview: the schema changed.' : 'No row preview: ' + d.reason + '.';
  if (d.added_total === 0 && d.removed_total === 0) return 'The same rows in both versions.';
  const part = (n, shown, what) => num(n) + ' ' + (n === 1 ? 'row' : 'rows') + ' ' + what + (shown < n ? ' (first ' + num(shown) + ' shown)' : '');
  return part(d.added_total, d.added.length, 'added') + ', ' + part(d.removed_total, d.removed.length, 'removed') + '.';
}
