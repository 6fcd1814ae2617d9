// A small SQL tokenizer for the editor's highlighting: keywords, strings,
// quoted names, numbers, comments and the rest, in order, so the tokens'
// texts joined are the input exactly.
const KEYWORDS = new Set(('select from where group by order having limit offset join left right inner outer full cross on using as and or not ' +
  'in is null like ilike between case when then else end distinct union all except intersect with asc desc nulls first last ' +
  'count sum avg min max cast true false exists over partition window qualify any filter interval date timestamp values').split(' '));

const RULES = [
  ['comment', /--[^\n]*|\/\*[\s\S]*?(\*\/|$)/y],
  ['string', /'(?:[^']|'')*'?/y],
  ['name', /"(?:[^"]|"")*"?/y],
  ['number', /\d+(?:\.\d*)?(?:e[+-]?\d+)?\b/iy],
  ['word', /[A-Za-z_][A-Za-z0-9_]*/y],
  ['space', /\s+/y],
  ['punct', /[^\sA-Za-z0-9_'"-]+|-/y],
];

export function tokens(sql) {
  const out = [];
  let i = 0;
  while (i < sql.length) {
    for (const [kind, re] of RULES) {
      re.lastIndex = i;
      const m = re.exec(sql);
      if (m && m[0].length) {
        const k = kind === 'word' ? (KEYWORDS.has(m[0].toLowerCase()) ? 'keyword' : 'ident') : kind;
        const last = out[out.length - 1];
        if (last && last[0] === k && (k === 'space' || k === 'punct')) last[1] += m[0];
        else out.push([k, m[0]]);
        i += m[0].length;
        break;
      }
    }
  }
  return out;
}

// ---- name completion ----
// The editor completes table names (of the chosen ref) and column names
// (of the tables the query names) from a catalog the page loads from the
// API: {tables: [{namespace, name, columns?: [names]}]} (columns appear
// once the table's schema is loaded).

const PLAIN = /^[A-Za-z_][A-Za-z0-9_]*$/;

// quoteName is a name as SQL needs it: bare, or in double quotes when it
// is not a plain identifier or is a keyword.
export function quoteName(n) {
  return PLAIN.test(n) && !KEYWORDS.has(n.toLowerCase()) ? n : '"' + n.replace(/"/g, '""') + '"';
}

const unquote = (s) => (s.startsWith('"') ? s.slice(1, s.endsWith('"') && s.length > 1 ? -1 : undefined).replace(/""/g, '"') : s);
const keyOf = (t) => t.namespace + '.' + t.name;

// tablesIn is what the query's names refer to: a map from each name and
// alias (lower case) the query uses for a table to the catalog's tables.
export function tablesIn(sql, catalog) {
  const byName = new Map();
  for (const t of catalog.tables) {
    for (const n of [t.name, keyOf(t)]) {
      const k = n.toLowerCase();
      byName.set(k, [...(byName.get(k) || []), t]);
    }
  }
  const ts = tokens(sql).filter(([k]) => k !== 'space' && k !== 'comment');
  const out = new Map();
  for (let i = 0; i < ts.length; i++) {
    if (ts[i][0] !== 'ident' && ts[i][0] !== 'name') continue;
    // a dotted name: a, a.b
    let j = i, parts = [unquote(ts[i][1])];
    while (ts[j + 1] && ts[j + 1][1] === '.' && ts[j + 2] && (ts[j + 2][0] === 'ident' || ts[j + 2][0] === 'name')) {
      parts.push(unquote(ts[j + 2][1])); j += 2;
    }
    const found = byName.get(parts.join('.').toLowerCase());
    if (found) {
      out.set(parts.join('.').toLowerCase(), found);
      let a = j + 1;
      if (ts[a] && ts[a][0] === 'keyword' && ts[a][1].toLowerCase() === 'as') a++;
      if (ts[a] && (ts[a][0] === 'ident' || ts[a][0] === 'name')) out.set(unquote(ts[a][1]).toLowerCase(), found);
    }
    i = j;
  }
  return out;
}

const TABLE_CONTEXT = new Set(['from', 'join', 'into', 'update', 'table']);

// completions are the names that can complete the word before pos:
// {from, items: [{label, insert, kind, detail}]}, where from is where the
// word starts (the text from there to pos is what insert replaces).
// After FROM or JOIN they are tables; after "x." the columns of the table
// x names (or the tables of namespace x); elsewhere the columns of the
// tables the query names, then tables, then keywords.
export function completions(sql, pos, catalog) {
  const before = sql.slice(0, pos);
  const last = tokens(before).at(-1);
  // Nothing inside a string, a quoted name or a comment.
  if (last && ((last[0] === 'string' && (last[1].length < 2 || !last[1].endsWith("'"))) ||
    (last[0] === 'name' && (last[1].length < 2 || !last[1].endsWith('"'))) ||
    (last[0] === 'comment' && (last[1].startsWith('--') || !last[1].endsWith('*/'))))) return { from: pos, items: [] };
  const word = /(?:(?:[A-Za-z_][A-Za-z0-9_]*|"(?:[^"]|"")*")\.)*[A-Za-z0-9_]*$/.exec(before)[0];
  const dot = word.lastIndexOf('.');
  const part = word.slice(dot + 1), qual = dot >= 0 ? word.slice(0, dot) : '';
  const from = pos - part.length;
  const lower = part.toLowerCase();
  const items = [];
  const add = (label, insert, kind, detail) => {
    if (label.toLowerCase().startsWith(lower) && !items.some((x) => x.insert === insert)) items.push({ label, insert, kind, detail });
  };
  const refs = tablesIn(sql.slice(0, from - (qual ? qual.length + 1 : 0)) + ' ' + sql.slice(pos), catalog);
  const columns = (t) => (t.columns || []).forEach((c) => add(c, quoteName(c), 'column', keyOf(t)));
  const sorted = (xs) => [...xs].sort((a, b) => a.localeCompare(b));
  if (qual) {
    const q = qual.split('.').map(unquote).join('.').toLowerCase();
    for (const t of refs.get(q) || catalog.tables.filter((t) => t.name.toLowerCase() === q || keyOf(t).toLowerCase() === q)) columns(t);
    for (const t of catalog.tables) if (t.namespace.toLowerCase() === q) add(t.name, quoteName(t.name), 'table', t.namespace);
  } else {
    const prev = tokens(before.slice(0, from)).filter(([k]) => k !== 'space' && k !== 'comment').at(-1);
    const tablesOnly = prev && prev[0] === 'keyword' && TABLE_CONTEXT.has(prev[1].toLowerCase());
    if (!tablesOnly) new Set([...refs.values()].flat()).forEach(columns);
    const count = new Map();
    for (const t of catalog.tables) count.set(t.name, (count.get(t.name) || 0) + 1);
    for (const t of catalog.tables) {
      if (count.get(t.name) === 1) add(t.name, quoteName(t.name), 'table', t.namespace);
      add(keyOf(t), quoteName(t.namespace) + '.' + quoteName(t.name), 'table', '');
    }
    if (!tablesOnly && part) {
      const upper = part === part.toUpperCase() && part !== part.toLowerCase();
      for (const k of sorted(KEYWORDS)) add(upper ? k.toUpperCase() : k, upper ? k.toUpperCase() : k, 'keyword', '');
    }
  }
  const rank = { column: 0, table: 1, keyword: 2 };
  items.sort((a, b) => rank[a.kind] - rank[b.kind] || a.label.localeCompare(b.label));
  // A word already complete and alone offers nothing (Tab moves on).
  if (items.length === 1 && items[0].insert === part) return { from, items: [] };
  return { from, items: items.slice(0, 50) };
}

// tablesToLoad are the catalog's tables the query names whose columns are
// not loaded yet.
export function tablesToLoad(sql, catalog) {
  return [...new Set([...tablesIn(sql, catalog).values()].flat())].filter((t) => !t.columns);
}
