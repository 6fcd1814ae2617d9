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
