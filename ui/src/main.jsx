// The tarn web UI: pages over the HTTP API, routed by the URL's hash
// (#/table/main/ns.name), so the server serves one page and its assets.
import { render } from 'preact';
import { useState, useEffect, useRef, useCallback } from 'preact/hooks';
import * as api from './api.js';
import { layout } from './graph.js';
import { dagLayout, NODE_W, NODE_H } from './dag.js';
import { tokens, completions, tablesToLoad } from './sql.js';
import { ago, bytes, duration, short, num, visibleProperties, csv, errorAt, cellText, rowDiffSummary } from './format.js';
import './style.css';

// ---- routing ----
function parseHash() {
  const h = location.hash.replace(/^#\/?/, '');
  const [path, q] = h.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || 'home', args: parts.slice(1), params: new URLSearchParams(q || '') };
}
export const href = (...parts) => '#/' + parts.map(encodeURIComponent).join('/');
function useRoute() {
  const [r, setR] = useState(parseHash());
  useEffect(() => {
    const f = () => setR(parseHash());
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  return r;
}

// useLoad runs load() when deps change: [value, error, reload].
function useLoad(load, deps) {
  const [state, setState] = useState({ value: undefined, error: null });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setState({ value: undefined, error: null });
    load().then((value) => live && setState({ value, error: null }), (error) => live && setState({ value: undefined, error }));
    return () => { live = false; };
  }, [...deps, n]);
  return [state.value, state.error, () => setN((x) => x + 1)];
}

const Err = ({ error }) => error ? <div class="error" role="alert"><b>{error.code || 'error'}</b>: <pre>{error.message}</pre></div> : null;
const Loading = () => <p class="muted" aria-busy="true">Loading…</p>;
function Show({ value, error, children }) {
  if (error) return <Err error={error} />;
  if (value === undefined) return <Loading />;
  return children(value);
}

// ---- sign-in ----
function SignIn({ onDone, failed }) {
  const [t, setT] = useState('');
  const [error, setError] = useState(failed);
  async function submit(e) {
    e.preventDefault();
    api.setToken(t.trim());
    try { onDone(await api.get('/v1/whoami')); } catch (err) { api.setToken(''); setError(err); }
  }
  return (
    <main class="signin">
      <h1>tarn</h1>
      <form onSubmit={submit}>
        <label for="token">Token</label>
        <input id="token" type="password" autocomplete="current-password" value={t} onInput={(e) => setT(e.target.value)} required />
        <button type="submit">Sign in</button>
        <p class="muted">A token comes from <code>tarn user add NAME</code> or <code>tarn user token NAME</code>. It is kept for this tab only.</p>
      </form>
      {error && error.status !== 401 ? <Err error={error} /> : error ? <p class="error" role="alert">That token was refused.</p> : null}
    </main>
  );
}

// ---- home ----
function sortBranches(refs) {
  return refs.filter((r) => r.kind === 'branch').sort((a, b) => new Date(b.head?.time || 0) - new Date(a.head?.time || 0));
}

function Home() {
  const [refs, refsErr] = useLoad(() => api.get('/v1/refs', { heads: true }), []);
  const [tables, tablesErr] = useLoad(() => api.get('/v1/tables', { ref: 'main' }), []);
  return (
    <div class="grid2">
      <section>
        <h2>Branches</h2>
        <Show value={refs} error={refsErr}>{(v) => <RefTable refs={sortBranches(v)} />}</Show>
      </section>
      <section>
        <h2>Tables of main</h2>
        <Show value={tables} error={tablesErr}>{(v) => <TableList ref_="main" list={v} />}</Show>
      </section>
    </div>
  );
}

function TableList({ ref_, list }) {
  if (!list.tables.length) return <p class="muted">No tables at {ref_}.</p>;
  return (
    <table class="data">
      <thead><tr><th>Table</th><th class="n">Rows</th><th class="n">Size</th><th>Last change</th></tr></thead>
      <tbody>{list.tables.map((t, i) => {
        const name = t.table.namespace + '.' + t.table.name;
        return <tr key={name}><td><a href={href('table', ref_, name)}>{name}</a></td><td class="n">{num(t.rows)}</td><td class="n">{bytes(t.bytes)}</td><td class="nowrap">{i < 50 && <LastChange ref_={ref_} table={name} />}</td></tr>;
      })}</tbody>
    </table>
  );
}

// LastChange is when a table's current snapshot was made (one request per
// table, so only the first tables of a long list ask).
function LastChange({ ref_, table }) {
  const [info] = useLoad(() => api.get('/v1/tables/' + encodeURIComponent(table), { ref: ref_ }), [ref_, table]);
  const t = info?.current_snapshot?.time;
  if (!t) return <span class="muted">{info ? '—' : ''}</span>;
  return <span title={t}>{ago(t)}</span>;
}

function RefTable({ refs, onDelete }) {
  if (!refs.length) return <p class="muted">None.</p>;
  return (
    <table class="data">
      <thead><tr><th>Name</th><th>Head</th><th>Author</th><th>Age</th>{onDelete && <th><span class="sr">Actions</span></th>}</tr></thead>
      <tbody>{refs.map((r) => (
        <tr key={r.kind + r.name}>
          <td><a href={href('log', r.name)}>{r.name}</a>{r.kind === 'tag' && <span class="badge">tag</span>}</td>
          <td><a class="mono" href={href('commit', r.commit)}>{short(r.commit)}</a> <span class="muted">{r.head?.message?.split('\n')[0]}</span></td>
          <td>{r.head?.author}</td>
          <td class="nowrap">{ago(r.head?.time)}</td>
          {onDelete && <td>{r.name !== 'main' && <button class="small" onClick={() => onDelete(r)} aria-label={'Delete ' + r.name}>Delete</button>}</td>}
        </tr>))}</tbody>
    </table>
  );
}

// ---- branches and tags ----
function Refs() {
  const [refs, err, reload] = useLoad(() => api.get('/v1/refs', { heads: true }), []);
  const [msg, setMsg] = useState(null);
  const [error, setError] = useState(null);
  const act = (f) => async (e) => {
    e && e.preventDefault && e.preventDefault();
    setMsg(null); setError(null);
    try { setMsg(await f(e)); reload(); } catch (x) { setError(x); }
  };
  const form = (e) => Object.fromEntries(new FormData(e.target));
  return (
    <div>
      <h2>Branches and tags</h2>
      <Show value={refs} error={err}>{(v) => <>
        <RefTable refs={[...sortBranches(v), ...v.filter((r) => r.kind === 'tag')]} onDelete={(r) => {
          if (confirm('Delete ' + r.kind + ' ' + r.name + '?')) act(async () => { await api.del('/v1/refs/' + encodeURIComponent(r.name), { kind: r.kind }); return 'Deleted ' + r.name + '.'; })();
        }} />
      </>}</Show>
      {msg && <p class="ok" role="status">{msg}</p>}
      <MergeError error={error} />
      <div class="forms">
        <form onSubmit={act(async function (e) { const f = form(e); await api.post('/v1/refs', { kind: f.kind, name: f.name, from: f.from }); return 'Created ' + f.kind + ' ' + f.name + '.'; })}>
          <h3>Create</h3>
          <label>Kind <select name="kind"><option value="branch">branch</option><option value="tag">tag</option></select></label>
          <label>Name <input name="name" required /></label>
          <label>From <input name="from" value="main" required /></label>
          <button type="submit">Create</button>
        </form>
        <form onSubmit={act(async function (e) {
          const f = form(e);
          const r = await api.post('/v1/merge', { source: f.source, into: f.into });
          return r.up_to_date ? f.into + ' is up to date with ' + f.source + '.' : 'Merged ' + f.source + ' into ' + f.into + (r.fast_forward ? ' (fast-forward)' : '') + ': ' + (r.changes?.length || 0) + ' change(s).';
        })}>
          <h3>Merge</h3>
          <label>Source <input name="source" required /></label>
          <label>Into <input name="into" value="main" required /></label>
          <button type="submit">Merge</button>
        </form>
        <form onSubmit={(e) => { e.preventDefault(); const f = form(e); location.hash = '#/diff?from=' + encodeURIComponent(f.from) + '&to=' + encodeURIComponent(f.to); }}>
          <h3>Compare</h3>
          <label>From <input name="from" value="main" required /></label>
          <label>To <input name="to" required /></label>
          <button type="submit">Diff</button>
        </form>
      </div>
    </div>
  );
}

// MergeError shows a failed merge's conflicts one a line (the server
// lists them in its message).
function MergeError({ error }) {
  if (!error) return null;
  if (error.code !== 'conflict') return <Err error={error} />;
  const lines = error.message.split('\n').map((l) => l.trim()).filter(Boolean);
  return (
    <div class="error" role="alert">
      <b>Conflict</b>: {lines[0]}
      {lines.length > 1 && <ul class="conflicts">{lines.slice(1).map((l) => <li key={l}>{l.replace(/^[-*]\s*/, '')}</li>)}</ul>}
    </div>
  );
}

// ---- history ----
const ROW_H = 28, LANE_W = 14;
function Log({ ref_ }) {
  const [rows, setRows] = useState([]);
  const [next, setNext] = useState(undefined);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const lanes = useRef([]);
  const more = useCallback(async (cursor, reset) => {
    setBusy(true);
    try {
      const page = await api.get('/v1/history', { ref: ref_, limit: 200, cursor });
      if (reset) lanes.current = [];
      const placed = layout(page.commits, lanes.current);
      setRows((r) => (reset ? placed : r.concat(placed)));
      setNext(page.next || null);
    } catch (e) { setError(e); }
    setBusy(false);
  }, [ref_]);
  useEffect(() => { setRows([]); setError(null); more(undefined, true); }, [ref_]);
  const sentinel = useRef(null);
  useEffect(() => {
    if (!sentinel.current || !next) return;
    const io = new IntersectionObserver((es) => { if (es[0].isIntersecting && !busy) more(next); });
    io.observe(sentinel.current);
    return () => io.disconnect();
  }, [next, busy]);
  return (
    <div>
      <h2>History of {ref_}</h2>
      <p><a href={href('tables', ref_)}>Tables at {ref_}</a></p>
      <Err error={error} />
      <ol class="log" aria-label={'Commits of ' + ref_}>
        {rows.map((row) => <LogRow key={row.commit.hash} row={row} />)}
      </ol>
      {busy && <Loading />}
      {next && <button ref={sentinel} onClick={() => more(next)} disabled={busy}>More</button>}
      {next === null && <p class="muted">{num(rows.length)} commits.</p>}
    </div>
  );
}

function LogRow({ row }) {
  const { commit: c, col, joins, forks, through, width } = row;
  const w = Math.max(1, width) * LANE_W + 4, x = (i) => i * LANE_W + LANE_W / 2, mid = ROW_H / 2;
  return (
    <li class="logrow">
      <svg width={w} height={ROW_H} aria-hidden="true" class="lanes">
        {through.map((i) => <line key={'t' + i} x1={x(i)} y1={0} x2={x(i)} y2={ROW_H} />)}
        {joins.map((i) => <line key={'j' + i} x1={x(i)} y1={0} x2={x(col)} y2={mid} />)}
        {row.incoming && <line x1={x(col)} y1={0} x2={x(col)} y2={mid} />}
        {(c.parents || []).length > 0 && <line x1={x(col)} y1={mid} x2={x(col)} y2={ROW_H} />}
        {forks.map((i) => <line key={'f' + i} class="merge" x1={x(col)} y1={mid} x2={x(i)} y2={ROW_H} />)}
        <circle cx={x(col)} cy={mid} r={(c.parents || []).length > 1 ? 5 : 4} class={(c.parents || []).length > 1 ? 'mergedot' : ''} />
      </svg>
      <a class="mono" href={href('commit', c.hash)}>{short(c.hash)}</a>
      <span class="msg">{c.message.split('\n')[0]}</span>
      <span class="muted">{c.author} · {ago(c.time)}</span>
    </li>
  );
}

// ---- commit ----
function Commit({ hash }) {
  const [c, err] = useLoad(() => api.get('/v1/commits/' + hash), [hash]);
  return (
    <Show value={c} error={err}>{(c) => <div>
      <h2>Commit <span class="mono">{short(c.hash)}</span></h2>
      <pre class="message">{c.message}</pre>
      <dl class="facts">
        <dt>Hash</dt><dd class="mono">{c.hash}</dd>
        <dt>Author</dt><dd>{c.author}</dd>
        <dt>Time</dt><dd>{new Date(c.time).toISOString()} ({ago(c.time)})</dd>
        <dt>Parents</dt><dd>{(c.parents || []).map((p) => <a key={p} class="mono" href={href('commit', p)}>{short(p)} </a>)}</dd>
        {visibleProperties(c.properties).map(([k, v]) => [<dt key={'k' + k}>{k}</dt>, <dd key={'v' + k}>{k === 'run_id' || k === 'job' ? <a href={href('job', v)}>{v}</a> : v}</dd>])}
      </dl>
      <h3>Tables changed</h3>
      {(c.parents || []).length ? <Changes from={c.parents[0]} to={c.hash} /> : <p class="muted">The first commit.</p>}
      <p><a href={href('tables', c.hash)}>Tables at this commit</a> · <a href={href('log', c.hash)}>History from here</a></p>
    </div>}</Show>
  );
}

function Changes({ from, to }) {
  const [changes, err] = useLoad(() => api.get('/v1/diff', { from, to }), [from, to]);
  const [open, setOpen] = useState({});
  useEffect(() => setOpen({}), [from, to]);
  return (
    <Show value={changes} error={err}>{(cs) => cs.filter((c) => c.old?.kind === 'table' || c.new?.kind === 'table').length === 0 ? <p class="muted">No table changed.</p> :
      <table class="data">
        <thead><tr><th>Table</th><th>Change</th><th class="n">Rows before</th><th class="n">Rows after</th><th class="n">Delta</th><th>Rows</th></tr></thead>
        <tbody>{cs.filter((c) => c.old?.kind === 'table' || c.new?.kind === 'table').map((c) => {
          const before = c.old?.rows ?? 0, after = c.new?.rows ?? 0, d = after - before;
          const previewable = c.change === 'changed' && c.old?.kind === 'table' && c.new?.kind === 'table';
          return [<tr key={c.key}>
            <td>{c.change === 'removed' ? c.key : <a href={href('table', to, c.key)}>{c.key}</a>}</td>
            <td><span class={'badge ' + c.change}>{c.change}</span></td>
            <td class="n">{c.old ? num(before) : ''}</td><td class="n">{c.new ? num(after) : ''}</td>
            <td class={'n ' + (d > 0 ? 'plus' : d < 0 ? 'minus' : '')}>{d > 0 ? '+' : ''}{num(d)}</td>
            <td>{previewable && <button class="link" aria-expanded={!!open[c.key]} aria-controls={'rows-' + c.key} onClick={() => setOpen({ ...open, [c.key]: !open[c.key] })}>{open[c.key] ? 'Hide rows' : 'Rows added / removed'}</button>}</td>
          </tr>, open[c.key] && <tr key={c.key + '/rows'} id={'rows-' + c.key}><td colSpan={6}><RowDiff name={c.key} from={from} to={to} /></td></tr>];
        })}</tbody>
      </table>}</Show>
  );
}

// RowDiff shows the rows a table gained and lost between two refs (the
// server computes it only when cheap, else says why not).
function RowDiff({ name, from, to }) {
  const [d, err] = useLoad(() => api.get('/v1/tables/' + encodeURIComponent(name) + '/diff', { from, to, limit: 20 }), [name, from, to]);
  return <Show value={d} error={err}>{(d) => <div class="rowdiff">
    <p class="muted">{rowDiffSummary(d)}</p>
    {d.added.length > 0 && <section><h3 class="plus">Rows added</h3><Grid label={'Rows added to ' + name} columns={d.columns} rows={d.added.map((r) => r.map(cellText))} /></section>}
    {d.removed.length > 0 && <section><h3 class="minus">Rows removed</h3><Grid label={'Rows removed from ' + name} columns={d.columns} rows={d.removed.map((r) => r.map(cellText))} /></section>}
  </div>}</Show>;
}

function Diff({ params }) {
  const from = params.get('from') || 'main', to = params.get('to') || 'main';
  return <div><h2>Diff <span class="mono">{from}</span> → <span class="mono">{to}</span></h2><Changes from={from} to={to} /></div>;
}

// ---- tables ----
function Tables({ ref_ }) {
  const [list, err] = useLoad(() => api.get('/v1/tables', { ref: ref_ }), [ref_]);
  return <div><h2>Tables at {ref_}</h2><Show value={list} error={err}>{(v) => <TableList ref_={ref_} list={v} />}</Show></div>;
}

function Table({ ref_, name }) {
  const [info, err] = useLoad(() => api.get('/v1/tables/' + encodeURIComponent(name), { ref: ref_ }), [ref_, name]);
  const [tab, setTab] = useState('data');
  return (
    <Show value={info} error={err}>{(t) => <div>
      <h2>{name} <span class="muted">at {ref_}</span></h2>
      <p class="muted">{num(t.rows)} rows · {num(t.files)} files · {bytes(t.bytes)} · commit <a class="mono" href={href('commit', t.commit)}>{short(t.commit)}</a></p>
      <div role="tablist" class="tabs">
        {['data', 'schema', 'stats', 'snapshots', 'files'].map((k) => <button key={k} role="tab" aria-selected={tab === k} onClick={() => setTab(k)}>{k}</button>)}
      </div>
      {tab === 'data' && <Preview name={name} ref_={t.commit} />}
      {tab === 'schema' && <Schema t={t} />}
      {tab === 'stats' && <Stats name={name} ref_={t.commit} />}
      {tab === 'snapshots' && <Snapshots t={t} />}
      {tab === 'files' && <Files t={t} />}
    </div>}</Show>
  );
}

function Schema({ t }) {
  return <div>
    <table class="data"><thead><tr><th class="n">Field id</th><th>Name</th><th>Type</th><th>Required</th></tr></thead>
      <tbody>{t.schema.map((f) => <tr key={f.id}><td class="n">{f.id}</td><td>{f.name}</td><td class="mono">{f.type}</td><td>{f.required ? 'yes' : ''}</td></tr>)}</tbody></table>
    <h3>Partition spec</h3>
    {(t.partition_spec || []).length ? <ul>{t.partition_spec.map((p) => <li key={p.name}>{p.name}: {p.transform}({p.source})</li>)}</ul> : <p class="muted">Not partitioned.</p>}
    <h3>Schema versions</h3>
    <ol>{(t.schemas || []).map((s) => <li key={s.schema_id}>schema {s.schema_id}{s.current ? ' (current)' : ''}: {(s.columns || []).map((c) => c.name + ' ' + c.type).join(', ')}</li>)}</ol>
  </div>;
}

function Snapshots({ t }) {
  const h = t.history || [];
  if (!h.length) return <p class="muted">No snapshots.</p>;
  const keys = Array.from(new Set(h.flatMap((s) => Object.keys(s)))).filter((k) => typeof h[0][k] !== 'object');
  return <table class="data"><thead><tr>{keys.map((k) => <th key={k}>{k}</th>)}</tr></thead>
    <tbody>{h.slice().reverse().map((s, i) => <tr key={i}>{keys.map((k) => <td key={k}>{typeof s[k] === 'object' ? JSON.stringify(s[k]) : String(s[k] ?? '')}</td>)}</tr>)}</tbody></table>;
}

function Files({ t }) {
  const fs = t.data_files || [];
  if (!fs.length) return <p class="muted">No data files.</p>;
  const keys = Array.from(new Set(fs.flatMap((s) => Object.keys(s)))).filter((k) => typeof fs[0][k] !== 'object');
  return <table class="data"><thead><tr>{keys.map((k) => <th key={k}>{k}</th>)}</tr></thead>
    <tbody>{fs.map((s, i) => <tr key={i}>{keys.map((k) => <td key={k} class={typeof s[k] === 'number' ? 'n' : ''}>{/size|bytes/.test(k) ? bytes(s[k]) : String(s[k] ?? '')}</td>)}</tr>)}</tbody></table>;
}

const PAGE = 50;
function Preview({ name, ref_ }) {
  const [offset, setOffset] = useState(0);
  const [sort, setSort] = useState(null);
  const [desc, setDesc] = useState(false);
  const [res, setRes] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let live = true;
    setError(null);
    (async () => {
      const r = await api.raw('GET', '/v1/tables/' + encodeURIComponent(name) + '/rows' + api.query({ ref: ref_, limit: PAGE, offset, sort, desc: sort ? desc : '' }));
      let columns = [], rows = [];
      await api.arrow(r, (c) => { columns = c; }, (b) => { rows = rows.concat(b); });
      if (live) setRes({ columns, rows });
    })().catch((e) => live && setError(e));
    return () => { live = false; };
  }, [name, ref_, offset, sort, desc]);
  const by = (c) => { if (sort === c) setDesc(!desc); else { setSort(c); setDesc(false); } setOffset(0); };
  return <div>
    <Err error={error} />
    {res && <Grid columns={res.columns} rows={res.rows} sort={sort} desc={desc} onSort={by} first={offset} />}
    <nav class="pager" aria-label="Pages">
      <button onClick={() => setOffset(Math.max(0, offset - PAGE))} disabled={offset === 0}>Previous</button>
      <span>rows {num(offset + 1)}–{num(offset + (res?.rows.length || 0))}</span>
      <button onClick={() => setOffset(offset + PAGE)} disabled={!res || res.rows.length < PAGE}>Next</button>
    </nav>
  </div>;
}

function Grid({ columns, rows, sort, desc, onSort, first = 0, label = 'Rows' }) {
  return <div class="gridwrap" tabIndex={0} role="region" aria-label={label}><table class="data grid">
    <thead><tr><th class="n">#</th>{columns.map((c) => <th key={c.name} aria-sort={sort === c.name ? (desc ? 'descending' : 'ascending') : undefined}>
      {onSort ? <button class="link" onClick={() => onSort(c.name)} title={c.type}>{c.name}{sort === c.name ? (desc ? ' ▼' : ' ▲') : ''}</button> : <span title={c.type}>{c.name}</span>}
    </th>)}</tr></thead>
    <tbody>{rows.map((r, i) => <tr key={i}><td class="n muted">{first + i + 1}</td>{r.map((v, j) => <td key={j} class={v === null ? 'null' : ''}>{v === null ? 'null' : v}</td>)}</tr>)}</tbody>
  </table></div>;
}

function Stats({ name, ref_ }) {
  const [s, err] = useLoad(() => api.get('/v1/tables/' + encodeURIComponent(name) + '/stats', { ref: ref_ }), [name, ref_]);
  return <Show value={s} error={err}>{(s) => <table class="data">
    <thead><tr><th>Column</th><th>Type</th><th class="n">Nulls</th><th>Min</th><th>Max</th><th class="n">Distinct (est.)</th><th>Histogram</th></tr></thead>
    <tbody>{s.columns.map((c) => <tr key={c.name}><td>{c.name}</td><td class="mono">{c.type}</td><td class="n">{num(c.nulls)}</td><td>{c.min}</td><td>{c.max}</td><td class="n">{num(c.distinct)}</td><td>{c.histogram && <Histogram bins={c.histogram} name={c.name} />}</td></tr>)}</tbody>
  </table>}</Show>;
}

function Histogram({ bins, name }) {
  const top = Math.max(1, ...bins.map((b) => b.count)), w = 120, h = 28, bw = w / bins.length;
  return <svg width={w} height={h} role="img" aria-label={'Histogram of ' + name} class="hist">
    {bins.map((b, i) => { const bh = Math.max(1, (b.count / top) * h); return <rect key={i} x={i * bw} y={h - bh} width={Math.max(1, bw - 1)} height={bh}><title>[{b.lower}, {b.upper}): {b.count}</title></rect>; })}
  </svg>;
}

// ---- SQL ----
const HISTORY = 'tarn.sql.history';
function SQL() {
  const [sql, setSql] = useState(() => (JSON.parse(localStorage.getItem(HISTORY) || '[]')[0]) || 'SELECT 1');
  const [ref_, setRef] = useState('main');
  const [res, setRes] = useState(null);
  const [error, setError] = useState(null);
  const [running, setRunning] = useState(false);
  const [history, setHistory] = useState(() => JSON.parse(localStorage.getItem(HISTORY) || '[]'));
  const editor = useRef(null), shade = useRef(null);
  const [refs] = useLoad(() => api.get('/v1/refs'), []);
  const complete = useCompletion(editor, sql, setSql, ref_);
  async function run() {
    if (running) return;
    setRunning(true); setError(null); setRes(null);
    const h = [sql, ...history.filter((x) => x !== sql)].slice(0, 30);
    setHistory(h); localStorage.setItem(HISTORY, JSON.stringify(h));
    const started = performance.now();
    const state = { columns: [], rows: [], total: null, ms: 0 };
    try {
      const r = await api.raw('POST', '/v1/query', { sql, ref: ref_ });
      await api.arrow(r, (c, meta) => { state.columns = c; state.total = meta.total_rows; setRes({ ...state }); }, (b) => {
        state.rows = state.rows.concat(b); state.ms = performance.now() - started; setRes({ ...state });
      });
      state.ms = performance.now() - started; setRes({ ...state, done: true });
    } catch (e) {
      setError(e);
      const at = errorAt(e.message);
      if (at && editor.current) {
        const lines = sql.split('\n');
        let pos = 0;
        for (let i = 0; i < at.line - 1 && i < lines.length; i++) pos += lines[i].length + 1;
        pos += at.column - 1;
        editor.current.focus(); editor.current.setSelectionRange(pos, pos + 1);
      }
    }
    setRunning(false);
  }
  async function download(format) {
    setError(null);
    try {
      const r = await api.raw('POST', '/v1/query/export', { sql, ref: ref_, format });
      const a = document.createElement('a');
      a.href = URL.createObjectURL(await r.blob()); a.download = 'result.' + format; a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    } catch (e) { setError(e); }
  }
  const at = error && errorAt(error.message);
  return <div>
    <h2>SQL</h2>
    <div class="sqlbar">
      <label>Ref <select value={ref_} onChange={(e) => setRef(e.target.value)}>
        {(refs || [{ name: 'main' }]).map((r) => <option key={r.name} value={r.name}>{r.name}</option>)}
      </select></label>
      <button onClick={run} disabled={running} title="Ctrl+Enter">{running ? 'Running…' : 'Run'}</button>
      <button onClick={() => download('csv')}>CSV</button>
      <button onClick={() => download('parquet')}>Parquet</button>
      <label>History <select onChange={(e) => { if (e.target.value) setSql(e.target.value); }} value="">
        <option value="">…</option>{history.map((h) => <option key={h} value={h}>{h.slice(0, 80)}</option>)}
      </select></label>
    </div>
    <label for="sql" class="sr">SQL</label>
    <div class="editor">
      <pre class="hl" aria-hidden="true" ref={shade}>{tokens(sql).map(([k, t], i) => <span key={i} class={'t-' + k}>{t}</span>)}{'\n'}</pre>
      <textarea id="sql" ref={editor} class="sql" spellcheck={false} value={sql} onInput={(e) => setSql(e.target.value)}
        onScroll={(e) => { shade.current.scrollTop = e.target.scrollTop; complete.close(); }} onBlur={complete.close} onClick={complete.close}
        onKeyDown={(e) => { if (complete.key(e)) return; if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') { e.preventDefault(); run(); } }} rows={8}
        aria-autocomplete="list" aria-controls={complete.list ? 'sql-names' : undefined}
        aria-activedescendant={complete.list ? 'sql-name-' + complete.list.sel : undefined} aria-describedby="sql-keys" />
      {complete.list && <ul id="sql-names" class="complete" role="listbox" aria-label="Names" style={{ left: complete.list.x + 'px', top: complete.list.y + 'px' }}>
        {complete.list.items.map((it, i) => <li key={it.insert} id={'sql-name-' + i} role="option" aria-selected={i === complete.list.sel}
          onMouseDown={(e) => { e.preventDefault(); complete.accept(it); }}>{it.label} <span class="muted">{it.detail || it.kind}</span></li>)}
      </ul>}
    </div>
    <p id="sql-keys" class="muted small">Ctrl+Enter runs; Tab or Ctrl+Space completes table and column names.</p>
    {error && <div class="error" role="alert"><b>{error.code}</b>{at && <> at line {at.line}, column {at.column}</>}: <pre>{error.message}</pre></div>}
    {res && <div>
      <p class="muted" role="status">{num(res.rows.length)} rows{res.total != null && res.total >= 0 && res.total !== res.rows.length ? ' of ' + num(res.total) : ''} · {Math.round(res.ms)} ms{res.done ? '' : ' · streaming'}</p>
      <Grid columns={res.columns} rows={res.rows.slice(0, 2000)} />
      {res.rows.length > 2000 && <p class="muted">Showing the first 2,000 rows; download the rest.</p>}
    </div>}
  </div>;
}

// useCompletion completes names in the SQL editor: the tables of ref and
// the columns of the tables the query names (their schemas loaded when
// first needed). Tab completes the word before the cursor (or lists the
// choices); Ctrl+Space lists them even for no word. In the list, arrows
// move, Enter or Tab accept, Escape closes.
function useCompletion(editor, sql, setSql, ref_) {
  const [catalog, setCatalog] = useState({ ref: ref_, tables: [] });
  const [list, setList] = useState(null); // {from, items, sel, x, y}
  const caret = useRef(null);
  useEffect(() => {
    let live = true;
    setCatalog({ ref: ref_, tables: [] });
    api.get('/v1/tables', { ref: ref_ }).then((l) => live && setCatalog({ ref: ref_, tables: l.tables.map((t) => ({ namespace: t.table.namespace, name: t.table.name })) }), () => {});
    return () => { live = false; };
  }, [ref_]);
  // The columns of the tables the query names, loaded as it names them.
  useEffect(() => {
    for (const t of tablesToLoad(sql, catalog)) {
      const key = t.namespace + '.' + t.name;
      t.columns = []; // asked for once
      api.get('/v1/tables/' + encodeURIComponent(key), { ref: catalog.ref }).then((info) => setCatalog((c) => (c.ref !== catalog.ref ? c : {
        ref: c.ref, tables: c.tables.map((x) => (x.namespace + '.' + x.name === key ? { ...x, columns: info.schema.map((f) => f.name) } : x)),
      })), () => {});
    }
  }, [sql, catalog]);
  // A list asked for before the names it needs arrived opens when they do.
  const wanted = useRef(false);
  useEffect(() => {
    if (list) show(true, list.sel);
    else if (wanted.current && editor.current && document.activeElement === editor.current) {
      const c = completions(sql, editor.current.selectionEnd, catalog);
      if (c.items.length) { wanted.current = false; setList({ ...c, sel: 0, ...where(c.from) }); }
    }
  }, [catalog, sql]);
  useEffect(() => {
    if (caret.current != null && editor.current) { editor.current.setSelectionRange(caret.current, caret.current); caret.current = null; }
  }, [sql]);
  // where puts the list under the cursor: a copy of the text up to it,
  // laid out like the editor, measures the spot.
  function where(pos) {
    const el = editor.current, copy = document.createElement('pre');
    copy.className = 'hl';
    copy.style.visibility = 'hidden';
    copy.textContent = sql.slice(0, pos);
    const mark = copy.appendChild(document.createElement('span'));
    mark.textContent = '\u200b';
    el.parentNode.appendChild(copy);
    const at = { x: Math.min(mark.offsetLeft, el.clientWidth - 240), y: mark.offsetTop + mark.offsetHeight - el.scrollTop };
    copy.remove();
    return at;
  }
  function show(keep, sel = 0) {
    const el = editor.current;
    if (!el) return null;
    const c = completions(sql, el.selectionEnd, catalog);
    if (!c.items.length || el.selectionStart !== el.selectionEnd) { setList(null); return c; }
    if (!keep && !list) setList({ ...c, sel: 0, ...where(c.from) });
    else setList((l) => l && { ...l, ...c, sel: Math.min(sel, c.items.length - 1) });
    return c;
  }
  function accept(it) {
    const el = editor.current, from = list ? list.from : completions(sql, el.selectionEnd, catalog).from;
    caret.current = from + it.insert.length;
    setSql(sql.slice(0, from) + it.insert + sql.slice(el.selectionEnd));
    setList(null);
  }
  function key(e) {
    if (list) {
      const n = list.items.length;
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        setList({ ...list, sel: (list.sel + (e.key === 'ArrowDown' ? 1 : n - 1)) % n });
        return true;
      }
      if ((e.key === 'Enter' && !e.ctrlKey && !e.metaKey) || (e.key === 'Tab' && !e.shiftKey)) { e.preventDefault(); accept(list.items[list.sel]); return true; }
      if (e.key === 'Escape') { e.preventDefault(); setList(null); return true; }
    }
    const tab = e.key === 'Tab' && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey;
    if (!tab && !(e.ctrlKey && (e.key === ' ' || e.code === 'Space'))) return false;
    const el = editor.current;
    const c = completions(sql, el.selectionEnd, catalog);
    // Tab after no word moves the focus on, as everywhere else.
    if (tab && (c.from === el.selectionEnd && !/\.$/.test(sql.slice(0, el.selectionEnd)) || !c.items.length)) return false;
    e.preventDefault();
    if (tab && c.items.length === 1) accept(c.items[0]);
    else if (c.items.length) setList({ ...c, sel: 0, ...where(c.from) });
    else wanted.current = tablesToLoad(sql, catalog).length > 0 || catalog.tables.some((t) => t.columns && !t.columns.length);
    return true;
  }
  return { list, key, accept, close: () => { wanted.current = false; setList(null); } };
}

// ---- jobs and runs ----
function Jobs() {
  const [jobs, err, reload] = useLoad(() => api.get('/v1/jobs'), []);
  useEffect(() => { const t = setInterval(reload, 3000); return () => clearInterval(t); }, []);
  return <div><h2>Runs and jobs</h2>
    <Show value={jobs} error={err}>{(js) => !js.length ? <p class="muted">No jobs yet.</p> : <table class="data">
      <thead><tr><th>Job</th><th>Kind</th><th>State</th><th>User</th><th>Ref</th><th>Started</th><th class="n">Duration</th><th>Summary</th></tr></thead>
      <tbody>{js.map((j) => <tr key={j.id}><td><a class="mono" href={href('job', j.id)}>{j.id}</a></td><td>{j.kind}</td><td><span class={'state ' + j.state}>{j.state}</span></td><td>{j.user}</td><td>{j.ref}</td><td>{ago(j.started || j.created)}</td><td class="n">{j.started ? duration(((j.finished ? new Date(j.finished) : new Date()) - new Date(j.started)) * 1e6) : ''}</td><td class="muted">{(j.summary || '').slice(0, 80)}</td></tr>)}</tbody>
    </table>}</Show></div>;
}

function Job({ id }) {
  const [job, err, reload] = useLoad(() => api.get('/v1/jobs/' + id), [id]);
  const [plan, setPlan] = useState(null);
  const [steps, setSteps] = useState({});
  const [logs, setLogs] = useState([]);
  const [step, setStep] = useState('');
  const [done, setDone] = useState(false);
  const [error, setError] = useState(null);
  useEffect(() => {
    const ctl = new AbortController();
    setPlan(null); setSteps({}); setLogs([]); setDone(false);
    (async () => {
      const r = await fetch('/v1/jobs/' + id + '/logs?follow=true', { headers: api.token() ? { Authorization: 'Bearer ' + api.token() } : {}, signal: ctl.signal });
      if (!r.ok) throw new api.APIError(r.status, 'error', await r.text());
      await api.ndjson(r, (ev) => {
        if (ev.kind === 'plan') setPlan(ev.plan);
        if (ev.kind === 'step') setSteps((s) => ({ ...s, [ev.step]: ev }));
        if (ev.kind === 'job') { setDone(true); reload(); }
        setLogs((l) => l.concat([ev]));
      }, ctl.signal);
      setDone(true); reload();
    })().catch((e) => { if (e.name !== 'AbortError') setError(e); });
    return () => ctl.abort();
  }, [id]);
  async function cancel() {
    try { await api.post('/v1/jobs/' + id + '/cancel'); reload(); } catch (e) { setError(e); }
  }
  const result = job?.result;
  return <div>
    <h2>Job <span class="mono">{id}</span></h2>
    <Err error={err || error} />
    {job && <dl class="facts">
      <dt>State</dt><dd><span class={'state ' + job.state} data-testid="job-state">{job.state}</span> {(job.state === 'running' || job.state === 'queued') && <button class="small" onClick={cancel}>Cancel</button>}</dd>
      <dt>Kind</dt><dd>{job.kind}</dd><dt>User</dt><dd>{job.user}</dd><dt>Ref</dt><dd>{job.ref}</dd>
      {job.summary && [<dt key="s">Summary</dt>, <dd key="sv"><pre class="message">{job.summary}</pre></dd>]}
      {job.error && [<dt key="e">Error</dt>, <dd key="ev" class="error"><pre>{job.error.message}</pre></dd>]}
      {result?.commit && [<dt key="c">Published</dt>, <dd key="cv"><a class="mono" href={href('commit', result.commit.hash)}>{short(result.commit.hash)}</a> on {result.target}</dd>]}
      {result && !result.published && result.run_branch && [<dt key="b">Run branch</dt>, <dd key="bv"><a href={href('log', result.run_branch)}>{result.run_branch}</a> (kept)</dd>]}
    </dl>}
    {plan && <Dag plan={plan} steps={steps} selected={step} onSelect={(s) => setStep(s === step ? '' : s)} />}
    {result?.steps?.some((s) => s.kind === 'expectation') && <><h3>Expectations</h3><ul>{result.steps.filter((s) => s.kind === 'expectation').map((s) => <li key={s.name}><span class={'state ' + s.state}>{s.state}</span> {s.name} {s.error && <span class="error">{s.error}</span>}</li>)}</ul></>}
    <h3>Logs {step && <>of {step} <button class="small" onClick={() => setStep('')}>all steps</button></>} {!done && <span class="muted">(live)</span>}</h3>
    <pre class="logs" tabIndex={0} aria-label="Logs" aria-live="polite" data-testid="logs">{logs.filter((e) => !step || e.step === step).map(logLine).filter(Boolean).join('\n')}</pre>
  </div>;
}

function logLine(e) {
  switch (e.kind) {
    case 'log': return '[' + e.step + '] ' + e.message;
    case 'step': return '· ' + e.step + ' ' + e.state + (e.rows ? ' ' + e.rows + ' rows' : '') + (e.duration_ns ? ' ' + duration(e.duration_ns) : '');
    case 'plan': return '· plan: ' + e.plan.map((s) => s.name).join(', ');
    case 'job': return '· job ' + e.state + (e.message ? ': ' + e.message : '');
    default: return e.message ? '· ' + e.message : '';
  }
}

function Dag({ plan, steps, selected, onSelect }) {
  const g = dagLayout(plan);
  const pos = Object.fromEntries(g.nodes.map((n) => [n.name, n]));
  return <figure class="dag"><svg width={g.width} height={g.height} role="img" aria-label="The run's steps">
    {g.lines.map((l) => <polyline key={l.from + '>' + l.to} points={l.points.map((p) => p.x + ',' + p.y).join(' ')} class="edge" />)}
    {g.nodes.map((n) => {
      const s = steps[n.name], state = s?.state || 'queued';
      return <g key={n.name} transform={`translate(${n.x},${n.y})`} class={'node ' + state + (selected === n.name ? ' selected' : '')} data-step={n.name} data-state={state}
        onClick={() => onSelect(n.name)} tabIndex={0} role="button" aria-label={n.name + ': ' + state} onKeyDown={(e) => e.key === 'Enter' && onSelect(n.name)}>
        <rect width={NODE_W} height={NODE_H} rx={6} />
        <text x={8} y={19} class="name">{n.name.length > 20 ? n.name.slice(0, 19) + '…' : n.name}</text>
        <text x={8} y={39} class="detail">{state}{state === 'cached' ? ' ⟳' : ''}{s?.rows ? ' · ' + num(s.rows) + ' rows' : ''}{s?.duration_ns ? ' · ' + duration(s.duration_ns) : ''}</text>
      </g>;
    })}
  </svg></figure>;
}

// ---- users ----
function Users() {
  const [users, err, reload] = useLoad(() => api.get('/v1/users'), []);
  const [shown, setShown] = useState(null);
  const [error, setError] = useState(null);
  const act = (f) => async (e) => { e && e.preventDefault && e.preventDefault(); setError(null); setShown(null); try { await f(e); reload(); } catch (x) { setError(x); } };
  return <div><h2>Users and tokens</h2>
    <Show value={users} error={err}>{(us) => <table class="data"><thead><tr><th>Name</th><th>Admin</th><th>Created</th><th>Expires</th><th><span class="sr">Actions</span></th></tr></thead>
      <tbody>{us.map((u) => <tr key={u.name}><td>{u.name}</td><td>{u.admin ? 'yes' : ''}</td><td>{ago(u.created)}</td><td>{u.expires ? new Date(u.expires).toISOString() : ''}</td>
        <td><button class="small" onClick={act(async () => { const r = await api.post('/v1/users/' + u.name + '/token'); setShown(r); })}>New token</button>{' '}
          <button class="small" onClick={act(async () => { if (confirm('Remove ' + u.name + '?')) await api.del('/v1/users/' + u.name); })}>Remove</button></td></tr>)}</tbody></table>}</Show>
    {shown && <p class="ok" role="status">Token of {shown.user.name} (shown once): <code data-testid="new-token">{shown.token}</code></p>}
    <Err error={error} />
    <form class="inline" onSubmit={act(async (e) => { const f = Object.fromEntries(new FormData(e.target)); const r = await api.post('/v1/users', { name: f.name, admin: f.admin === 'on' }); setShown(r); e.target.reset(); })}>
      <label>Name <input name="name" required pattern="[a-z][a-z0-9_\-]{0,31}" /></label>
      <label><input type="checkbox" name="admin" /> admin</label>
      <button type="submit">Add user</button>
    </form>
  </div>;
}

// ---- shell ----
function App() {
  const [me, setMe] = useState(undefined);
  const [failed, setFailed] = useState(null);
  const route = useRoute();
  useEffect(() => { api.get('/v1/whoami').then(setMe, (e) => { setFailed(api.token() ? e : null); setMe(null); }); }, []);
  useEffect(() => {
    const f = (e) => {
      if (e.key === '/' && !/INPUT|TEXTAREA|SELECT/.test(document.activeElement?.tagName)) { e.preventDefault(); document.getElementById('search')?.focus(); }
    };
    addEventListener('keydown', f);
    return () => removeEventListener('keydown', f);
  }, []);
  if (me === undefined) return <Loading />;
  if (me === null) return <SignIn onDone={setMe} failed={failed} />;
  const { page, args, params } = route;
  let body;
  switch (page) {
    case 'refs': body = <Refs />; break;
    case 'log': body = <Log ref_={args[0] || 'main'} />; break;
    case 'commit': body = <Commit hash={args[0]} />; break;
    case 'tables': body = <Tables ref_={args[0] || 'main'} />; break;
    case 'table': body = <Table ref_={args[0]} name={args[1]} />; break;
    case 'diff': body = <Diff params={params} />; break;
    case 'sql': body = <SQL />; break;
    case 'jobs': body = <Jobs />; break;
    case 'job': body = <Job id={args[0]} />; break;
    case 'users': body = <Users />; break;
    default: body = <Home />;
  }
  const nav = [['home', 'Home'], ['refs', 'Branches'], ['tables', 'Tables'], ['sql', 'SQL'], ['jobs', 'Runs'], ...(me.admin ? [['users', 'Users']] : [])];
  return <>
    <header>
      <a class="brand" href="#/">tarn</a>
      <nav aria-label="Main">{nav.map(([k, l]) => <a key={k} href={'#/' + (k === 'home' ? '' : k)} aria-current={page === k ? 'page' : undefined}>{l}</a>)}</nav>
      <form class="search" role="search" onSubmit={(e) => { e.preventDefault(); const v = e.target.q.value.trim(); if (v) location.hash = /^[0-9a-f]{64}$/.test(v) ? href('commit', v) : v.includes('.') ? href('table', 'main', v) : href('log', v); }}>
        <label for="search" class="sr">Go to a branch, table or commit</label>
        <input id="search" name="q" placeholder="branch, ns.table or commit  ( / )" />
      </form>
      <span class="who">{me.name}{me.admin ? ' (admin)' : ''}</span>
      {api.token() && <button class="small" onClick={() => { api.setToken(''); setMe(null); }}>Sign out</button>}
    </header>
    <main>{body}</main>
  </>;
}

render(<App />, document.getElementById('app'));
