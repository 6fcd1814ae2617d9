package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/cache"
	"github.com/tarnhq/tarn/table"
)

// cacheKeyVersion changes when what a key covers changes, so that old
// entries are never served under a new meaning.
const cacheKeyVersion = "tarn-step-v2" // v2: a lake input keeps only rows where its filter is TRUE (v1 kept NULLs for NOT IN)

// contentKey hashes parts into a full-length hex key.
func contentKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\x00", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// computeKeys gives every step its cache key, dependencies first: a hash
// of the step's code (see Model.CodeHash), its environment, the values of
// the parameters it uses (of a secret, its keyed hash), and its inputs — a lake table by (table, the
// metadata of its state at the ref read, columns, filter), an upstream
// step by that step's key (and columns, filter). Equal keys give equal
// results for deterministic code.
func (ex *execution) computeKeys(ctx context.Context) error {
	ex.keys = map[string]string{}
	ex.lakeMeta = map[string]string{}
	for _, st := range append(append([]*Step{}, ex.plan.Steps...), ex.plan.Expectations...) {
		m := st.Model
		parts := []string{cacheKeyVersion, m.Kind, m.Function, m.CodeHash,
			ex.r.Envs.Key(ex.p.EnvSpec(m))}
		params := slices.Clone(m.Parameters)
		slices.SortFunc(params, func(a, b ParamRef) int { return strings.Compare(a.Param, b.Param) })
		for _, pr := range params {
			if pr.Param == "" {
				continue // a filter's: its value is in the bound filter below
			}
			v := "<the default in the code>"
			if val, ok := ex.params[pr.Name]; ok {
				b, _ := json.Marshal(val)
				v = string(b)
			} else if val, ok := ex.secrets.values[pr.Name]; ok {
				v = "secret:" + ex.secrets.keys.MAC(val) // a keyed hash: the key tells nothing of the value
			}
			parts = append(parts, "param", pr.Param, v)
		}
		for _, li := range st.Lake {
			meta, err := ex.lakeState(ctx, li)
			if err != nil {
				return err
			}
			parts = append(parts, "lake", li.Param, li.Table.Key(), meta, strings.Join(li.Columns, ","), li.Filter)
		}
		for _, up := range st.Upstream {
			parts = append(parts, "upstream", up.Param, ex.keys[up.Model], strings.Join(up.Columns, ","), up.Filter)
		}
		ex.keys[stepKey(st)] = contentKey(parts...)
	}
	return nil
}

// lakeState returns the metadata location of a lake input's table at the
// ref the step reads.
func (ex *execution) lakeState(ctx context.Context, li LakeInput) (string, error) {
	ref := li.Ref
	if ref == "" {
		ref = ex.head.Hash
	}
	k := li.Table.Key() + "@" + ref
	if m, ok := ex.lakeMeta[k]; ok {
		return m, nil
	}
	cat := ex.r.Tables.Catalog()
	commit := ex.head
	if li.Ref != "" {
		c, err := cat.Resolve(ctx, li.Ref)
		if err != nil {
			return "", err
		}
		commit = c
	}
	e, err := cat.GetEntry(ctx, commit, li.Table.Key())
	if err != nil {
		return "", err
	}
	if e == nil {
		return "", tarn.Errorf(tarn.ENOTFOUND, "table %s not found at %s", li.Table, ref).About(tarn.ResourceTable)
	}
	ex.lakeMeta[k] = e.Metadata
	return e.Metadata, nil
}

func (ex *execution) cacheOn(st *Step) bool {
	return ex.r.Cache != nil && !ex.opts.NoCache && st.Model.CacheStrategy != "NONE" && !st.Model.UsesStore
}

// serveCached serves a step from the cache when its key is stored. It
// reports whether it did.
func (ex *execution) serveCached(ctx context.Context, st *Step, rep *tarn.StepReport) bool {
	if !ex.cacheOn(st) {
		return false
	}
	key := ex.keys[stepKey(st)]
	started := time.Now()
	e, err := ex.r.Cache.Fetch(ctx, key)
	if err != nil {
		ex.emit(tarn.RunEvent{Kind: tarn.EventInfo, Step: st.Model.Name, Message: fmt.Sprintf("warning: %v; running %s again", err, st.Model.Name)})
		return false
	}
	if e == nil {
		return false
	}
	m := st.Model
	detail := "served"
	if e.Remote {
		detail = "served from the shared cache"
		ex.emit(tarn.RunEvent{Kind: tarn.EventInfo, Step: m.Name, Message: fmt.Sprintf("%s served from the shared cache %s (%s downloaded in %.1fs)",
			m.Name, ex.r.Cache.Remote().Where(), table.FormatBytes(e.Fetched), time.Since(started).Seconds())})
	}
	ex.mu.Lock()
	rep.Rows, rep.Cached, rep.Saved = e.Rows, true, time.Duration(e.Seconds*float64(time.Second))
	rep.Profile = append(rep.Profile, tarn.StepPhase{Name: tarn.PhaseCache, Seconds: time.Since(started).Seconds(), Rows: e.Rows, Bytes: e.Bytes, Detail: detail})
	if m.Kind != "expectation" {
		ex.outputs[m.Name] = e.Path()
	}
	ex.mu.Unlock()
	if ex.opts.Preview > 0 && m.Kind != "expectation" {
		if text, err := previewArrow(e.Path(), ex.opts.Preview, ex.secrets.mask); err == nil {
			ex.emit(tarn.RunEvent{Kind: tarn.EventPreview, Step: m.Name, Message: text})
		}
	}
	ex.setState(rep, tarn.StepCached, "")
	if st.Materialized() && ex.session != nil {
		var reuse *table.DataFiles
		f, ok := e.Tables[st.Output.Key()]
		if ok && m.Strategy == "REPLACE" {
			if cur, err := ex.r.Tables.Catalog().GetEntry(ctx, ex.head, st.Output.Key()); err == nil && cur != nil && f.Metadata != "" && cur.Metadata == f.Metadata {
				return true // the table already holds exactly this result
			}
			if len(f.Paths) > 0 {
				reuse = &table.DataFiles{Paths: f.Paths, FieldIDs: f.FieldIDs}
			}
		}
		ex.writes.Add(1)
		go func() {
			defer ex.writes.Done()
			res, err := ex.materialize(ctx, st, rep, e.Path(), ex.parquetWriter(m), reuse)
			if err != nil {
				ex.setState(rep, tarn.StepFailed, err.Error())
				ex.fail(err)
				return
			}
			ex.recordFiles(st, key, res)
		}()
	}
	return true
}

// store puts a step's fresh result into the cache, beside the DAG: the
// copy of its output runs while later steps do, and a failure to store
// is a warning, not a failed run. With a shared tier (an s3://
// warehouse), the entry is uploaded there too. checksum is the output's as its worker
// wrote it; materialized, when set, delivers the data files the output
// was written to.
func (ex *execution) store(ctx context.Context, st *Step, rep *tarn.StepReport, output, checksum string, materialized <-chan *table.MaterializeResult) {
	if !ex.cacheOn(st) {
		return
	}
	key := ex.keys[stepKey(st)]
	ex.writes.Add(1)
	go func() {
		defer ex.writes.Done()
		started := time.Now()
		ex.mu.Lock()
		meta := cache.Meta{Key: key, Kind: cache.KindStep, Name: st.Model.Name, Project: ex.p.Name, Rows: rep.Rows, Seconds: rep.Duration.Seconds(), Checksum: checksum}
		ex.mu.Unlock()
		if output == "" { // an expectation that held: an empty entry records it
			f, err := os.CreateTemp(ex.shm, "held-*")
			if err != nil {
				return
			}
			f.Close()
			output = f.Name()
		}
		size := fileSize(output)
		if !ex.reserve(size, "the output of "+st.Model.Name) {
			return
		}
		if _, err := ex.r.Cache.Put(meta, output); err != nil {
			ex.emit(tarn.RunEvent{Kind: tarn.EventInfo, Step: st.Model.Name, Message: fmt.Sprintf("warning: could not cache the result of %s: %v", st.Model.Name, err)})
			return
		}
		ex.addPhase(rep, tarn.StepPhase{Name: tarn.PhaseCache, Seconds: time.Since(started).Seconds(), Bytes: size, Detail: "stored"})
		if materialized != nil {
			if res := <-materialized; res != nil {
				ex.recordFiles(st, key, res)
			}
		}
		// Shared last, with the data files recorded: other servers of the
		// lakehouse then publish them again as this one would.
		if err := ex.r.Cache.Share(ctx, key); err != nil {
			ex.emit(tarn.RunEvent{Kind: tarn.EventInfo, Step: st.Model.Name, Message: fmt.Sprintf("warning: the result of %s is cached on this server only: %v", st.Model.Name, err)})
		}
	}()
}

// recordFiles remembers in the step's cache entry which data files hold
// its output, so that the next hit publishes them without a write.
func (ex *execution) recordFiles(st *Step, key string, res *table.MaterializeResult) {
	if res == nil || res.Entry == nil || st.Model.Strategy != "REPLACE" {
		return
	}
	f := cache.Files{Metadata: res.Entry.Metadata}
	if res.Files != nil {
		f.Paths, f.FieldIDs = res.Files.Paths, res.Files.FieldIDs
	}
	ex.r.Cache.SetTables(key, st.Output.Key(), f)
}

// cachedExport serves a lake-table scan from the cache, or exports it
// into the cache. ok is false when the scan cache is off.
func (ex *execution) cachedExport(ctx context.Context, li LakeInput, ref string) (path string, rows int64, ok bool, err error) {
	if ex.r.Cache == nil || ex.opts.NoCache {
		return "", 0, false, nil
	}
	meta, err := ex.lakeState(ctx, li)
	if err != nil {
		return "", 0, true, err
	}
	key := contentKey("tarn-scan-v2", li.Table.Key(), meta, strings.Join(li.Columns, ","), li.Filter)
	e, err := ex.r.Cache.Get(key)
	if errors.Is(err, cache.ErrCorrupt) {
		ex.emit(tarn.RunEvent{Kind: tarn.EventInfo, Message: fmt.Sprintf("warning: %v; reading %s again", err, li.Table)})
	}
	if e != nil {
		ex.emit(tarn.RunEvent{Kind: tarn.EventInfo, Message: fmt.Sprintf("scan of %s served from the cache (%s)", li.Table, table.FormatBytes(e.Bytes))})
		return e.Path(), e.Rows, true, nil
	}
	tmp, err := ex.r.Cache.TempFile("scan.arrow")
	if err != nil {
		return "", 0, true, err
	}
	started := time.Now()
	res, err := ex.r.Tables.ExportArrow(ctx, table.ExportRequest{Ident: li.Table, Ref: ref, Columns: li.Columns, Filter: li.Filter}, tmp)
	if err != nil {
		os.RemoveAll(filepath.Dir(tmp))
		return "", 0, true, err
	}
	if !ex.reserve(res.Bytes, li.Table.String()) {
		// Over the cache's limit: the export serves this run from the
		// run's own directory and is not kept.
		path := filepath.Join(ex.workRoot, filepath.Base(filepath.Dir(tmp))+"-scan.arrow")
		err := os.Rename(tmp, path)
		os.RemoveAll(filepath.Dir(tmp))
		return path, res.Rows, true, err
	}
	defer os.RemoveAll(filepath.Dir(tmp))
	e, err = ex.r.Cache.Adopt(cache.Meta{Key: key, Kind: cache.KindScan, Name: li.Table.String(), Rows: res.Rows, Seconds: time.Since(started).Seconds(),
		Checksum: fmt.Sprintf("%08x", res.CRC32C)}, tmp)
	if err != nil {
		return "", 0, true, err
	}
	return e.Path(), e.Rows, true, nil
}

// reserve makes room in the cache for an entry of size bytes under its
// limit (evicting the least recently used entries not used in the last
// ten minutes), and says whether it may be stored: the cache keeps its
// limit during a run.
func (ex *execution) reserve(size int64, what string) bool {
	ok, err := ex.r.Cache.Reserve(ex.r.CacheMaxBytes, size, 10*time.Minute)
	if err == nil && ok {
		return true
	}
	msg := fmt.Sprintf("warning: %s (%s) is not cached: the cache holds its limit of %s in entries used in the last ten minutes (raise it: tarn cache limit)", what, table.FormatBytes(size), table.FormatBytes(ex.r.CacheMaxBytes))
	if err != nil {
		msg = fmt.Sprintf("warning: %s is not cached: %v", what, err)
	}
	ex.emit(tarn.RunEvent{Kind: tarn.EventInfo, Message: msg})
	return false
}

// materializeDone is a channel that delivers one materialization result.
func materializeDone() (chan *table.MaterializeResult, func(*table.MaterializeResult)) {
	ch := make(chan *table.MaterializeResult, 1)
	var once sync.Once
	return ch, func(r *table.MaterializeResult) { once.Do(func() { ch <- r }) }
}
