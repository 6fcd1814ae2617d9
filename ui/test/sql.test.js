import { describe, it, expect } from 'vitest';
import { tokens, completions, tablesIn, tablesToLoad } from '../src/sql.js';

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

describe('SQL name completion', () => {
  const catalog = {
    tables: [
      { namespace: 'tarn', name: 'trips', columns: ['trip_id', 'pickup_at', 'pickup_zone', 'fare', 'order'] },
      { namespace: 'tarn', name: 'zones', columns: ['zone', 'borough'] },
      { namespace: 'raw', name: 'zones' },
      { namespace: 'raw', name: 'Odd Name', columns: ['a b'] },
    ],
  };
  const at = (sql) => { const pos = sql.indexOf('‸'); const s = sql.replace('‸', ''); return completions(s, pos, catalog); };
  const labels = (sql) => at(sql).items.map((i) => i.label);

  it('offers tables after FROM and JOIN, qualified when a name is in two namespaces', () => {
    expect(labels('select * from tr‸')).toEqual(['trips']);
    expect(labels('select * from trips join ‸')).toEqual(['Odd Name', 'raw.Odd Name', 'raw.zones', 'tarn.trips', 'tarn.zones', 'trips']);
    expect(at('select * from trips join raw.O‸').items.map((i) => i.insert)).toEqual(['"Odd Name"']);
    expect(at('select * from tr‸').from).toBe('select * from '.length);
    expect(at('select * from tr‸').items[0].insert).toBe('trips');
  });
  it("offers a namespace's tables after its name and a dot", () => {
    expect(labels('select * from raw.‸')).toEqual(['Odd Name', 'zones']);
    expect(at('select * from raw.O‸').items[0].insert).toBe('"Odd Name"');
  });
  it('offers the columns of the tables the query names, then tables and keywords', () => {
    expect(labels('select pick‸ from trips')).toEqual(['pickup_at', 'pickup_zone']);
    expect(labels('select f‸ from trips')).toEqual(['fare', 'false', 'filter', 'first', 'from', 'full']);
    expect(labels('SELECT F‸ FROM trips')).toEqual(['fare', 'FALSE', 'FILTER', 'FIRST', 'FROM', 'FULL']);
    // zones is in two namespaces: the loaded one's columns are offered.
    expect(labels('select b‸ from trips join zones on true')).toEqual(['borough', 'between', 'by']);
  });
  it('offers the columns of a table after its name or alias and a dot, quoted when needed', () => {
    expect(labels('select t.p‸ from trips t')).toEqual(['pickup_at', 'pickup_zone']);
    expect(labels('select x.‸ from tarn.trips as x')).toEqual(['fare', 'order', 'pickup_at', 'pickup_zone', 'trip_id']);
    expect(at('select x.o‸ from tarn.trips as x').items[0].insert).toBe('"order"');
    expect(at('select o."a‸ from raw."Odd Name" o').items).toEqual([]); // inside a quoted name
    expect(at('select o.a‸ from raw."Odd Name" o').items[0].insert).toBe('"a b"');
    expect(at('select trips.tr‸ from trips').from).toBe('select trips.'.length);
  });
  it('offers nothing inside strings and comments, or for a finished word alone', () => {
    expect(labels("select 'tr‸ from trips")).toEqual([]);
    expect(labels('select 1 -- tr‸')).toEqual([]);
    expect(labels('select 1 /* tr‸')).toEqual([]);
    expect(labels('select * from trips‸')).toEqual([]);
    expect(labels("select 'a' || fa‸ from trips")).toEqual(['fare', 'false']);
  });
  it('knows which named tables still need their columns', () => {
    expect(tablesToLoad('select * from zones z join trips t on true', catalog).map((t) => t.namespace + '.' + t.name)).toEqual(['raw.zones']);
    expect(tablesIn('select * from trips t', catalog).get('t')[0].name).toBe('trips');
  });
});
