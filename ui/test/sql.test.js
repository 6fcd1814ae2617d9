import { describe, it, expect } from 'vitest';
import { tokens } from '../src/sql.js';

describe('SQL tokens', () => {
  it('marks keywords, strings, names, numbers and comments', () => {
    const t = tokens("SELECT \"fare amount\", 'it''s' -- note\nfrom trips where n >= 2.5");
    const kinds = t.filter(([k]) => k !== 'space').map(([k, s]) => k + ':' + s);
    expect(kinds).toEqual(['keyword:SELECT', 'name:"fare amount"', 'punct:,', "string:'it''s'", 'comment:-- note',
      'keyword:from', 'ident:trips', 'keyword:where', 'ident:n', 'punct:>=', 'number:2.5']);
  });
  it('gives back the text exactly, unfinished quotes too', () => {
    for (const sql of ["select 'open", 'select "open', 'a /* b', 'x-1', '', 'é ü 中']) {
      expect(tokens(sql).map(([, s]) => s).join('')).toBe(sql);
    }
  });
});
