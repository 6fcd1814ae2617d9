// The UI's client of the tarn HTTP API (api/openapi.yaml): the same
// requests the CLI makes, with the token from session storage.
import { RecordBatchReader, DataType } from 'apache-arrow';

const TOKEN = 'tarn.token';

export function token() { return sessionStorage.getItem(TOKEN) || ''; }
export function setToken(t) { t ? sessionStorage.setItem(TOKEN, t) : sessionStorage.removeItem(TOKEN); }

// APIError is an error the server answered: {error:{code,message}}.
export class APIError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

function headers(extra) {
  const h = { ...extra };
  const t = token();
  if (t) h.Authorization = 'Bearer ' + t;
  return h;
}

// query builds ?a=b&c=d, leaving out empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

async function fail(res) {
  let code = 'internal', message = res.status + ' ' + res.statusText;
  try {
    const body = await res.json();
    if (body && body.error) { code = body.error.code; message = body.error.message; }
  } catch { /* not JSON */ }
  return new APIError(res.status, code, message);
}

export async function raw(method, path, body, extra) {
  const init = { method, headers: headers(extra) };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(path, init);
  if (!res.ok) throw await fail(res);
  return res;
}

// parse reads JSON keeping integers beyond 2^53 (snapshot ids) exact, as
// their text, where the browser hands the reviver the source (Chrome 114+,
// Firefox 135+); elsewhere they stay (rounded) numbers.
export function parse(text) {
  return JSON.parse(text, (k, v, ctx) => (typeof v === 'number' && !Number.isSafeInteger(v) && Number.isInteger(v) && ctx && ctx.source ? ctx.source : v));
}
const json = async (res) => parse(await res.text());

export async function get(path, params) { return json(await raw('GET', path + query(params))); }
export async function post(path, body) { return json(await raw('POST', path, body)); }
export async function del(path, params) { return json(await raw('DELETE', path + query(params))); }

export const tablePath = (ns, name) => '/v1/tables/' + encodeURIComponent(ns + '.' + name);

// arrow reads an Arrow IPC response batch by batch: onSchema(columns,
// meta) first (meta is the stream's tarn.query JSON), then onRows(rows)
// for each batch, each row an array of display strings.
export async function arrow(res, onSchema, onRows) {
  const reader = await RecordBatchReader.from(res);
  await reader.open();
  const meta = reader.schema.metadata.get('tarn.query');
  const fields = reader.schema.fields.map((f) => ({ name: f.name, type: String(f.type) }));
  onSchema(fields, meta ? JSON.parse(meta) : {});
  for await (const batch of reader) {
    const cols = fields.map((_, i) => batch.getChildAt(i));
    const rows = new Array(batch.numRows);
    for (let r = 0; r < batch.numRows; r++) rows[r] = cols.map((c) => cell(c.get(r), c.type));
    onRows(rows);
  }
}

// cell is a value of an Arrow column of type type as text: null as null,
// timestamps and dates (which Arrow gives as milliseconds since the epoch)
// as "2026-02-03 20:47:00" (the instant in UTC and "+00" when the column
// has a time zone), bigints exact.
export function cell(v, type) {
  if (v === null || v === undefined) return null;
  if (type && typeof v === 'number' && (DataType.isTimestamp(type) || DataType.isDate(type))) {
    const iso = new Date(v).toISOString().replace('T', ' ').replace(/\.000Z$|Z$/, '');
    return DataType.isDate(type) && /^\d{4}-\d\d-\d\d 00:00:00$/.test(iso) ? iso.slice(0, 10) : iso + (type.timezone ? '+00' : '');
  }
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return '0x' + Array.from(v.slice(0, 32), (b) => b.toString(16).padStart(2, '0')).join('') + (v.length > 32 ? '…' : '');
  if (typeof v === 'object') {
    try { return JSON.stringify(v.toJSON ? v.toJSON() : v, (_, x) => (typeof x === 'bigint' ? x.toString() : x)); } catch { return String(v); }
  }
  return String(v);
}

// ndjson calls onLine for each JSON line of a streamed response until it ends.
export async function ndjson(res, onLine, signal) {
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    if (signal && signal.aborted) { reader.cancel(); return; }
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line) onLine(JSON.parse(line));
    }
  }
  if (buf.trim()) onLine(JSON.parse(buf));
}
