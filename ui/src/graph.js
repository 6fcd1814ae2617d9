// Lanes of a commit graph: for commits newest first, the column of each
// commit's dot and the lines from it to its parents, as drawn by `git log
// --graph`. A merge opens a lane for its second parent; lanes close when
// the commit they wait for is drawn. lanes carries over between pages.

// layout places commits; lanes (the hashes each column waits for) is
// updated in place, so the next page continues where this one ended.
export function layout(commits, lanes = []) {
  const rows = [];
  for (const c of commits) {
    let col = lanes.indexOf(c.hash);
    if (col < 0) {
      col = lanes.indexOf(null);
      if (col < 0) col = lanes.length;
    }
    const before = lanes.slice();
    // Every other lane waiting for this commit joins it here.
    const joins = [];
    for (let i = 0; i < lanes.length; i++) if (i !== col && lanes[i] === c.hash) { joins.push(i); lanes[i] = null; }
    const parents = c.parents || [];
    lanes[col] = parents.length ? parents[0] : null;
    const forks = [];
    for (const p of parents.slice(1)) {
      let at = lanes.indexOf(p);
      if (at < 0) {
        at = lanes.indexOf(null);
        if (at < 0) at = lanes.length;
        lanes[at] = p;
      }
      forks.push(at);
    }
    while (lanes.length && lanes[lanes.length - 1] === null) lanes.pop();
    // Lanes passing by this row untouched.
    const through = [];
    for (let i = 0; i < before.length; i++) if (before[i] !== null && i !== col && !joins.includes(i)) through.push(i);
    rows.push({ commit: c, col, incoming: before[col] === c.hash, joins, forks, through, width: Math.max(before.length, lanes.length, col + 1) });
  }
  return rows;
}
