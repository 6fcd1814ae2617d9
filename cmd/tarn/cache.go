package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/cache"
	"github.com/tarnhq/tarn/local"
	"github.com/tarnhq/tarn/objcache"
	"github.com/tarnhq/tarn/pipeline"
	"github.com/tarnhq/tarn/table"
)

// defaultCacheMaxBytes bounds the cache when the config says nothing.
const defaultCacheMaxBytes = 20 << 30

// cacheLimit is the cache's size bound: $TARN_CACHE_MAX_SIZE, else
// cache.max_size in the home's config.yml, else 20 GiB.
func (a *app) cacheLimit() (int64, error) {
	s := os.Getenv("TARN_CACHE_MAX_SIZE")
	where := "TARN_CACHE_MAX_SIZE"
	if s == "" {
		c, err := local.Home(a.home).Config()
		if err != nil {
			return 0, err
		}
		s, where = c.Cache.MaxSize, "cache.max_size in "+local.Home(a.home).ConfigFile()
	}
	if s == "" {
		return defaultCacheMaxBytes, nil
	}
	n, err := pipeline.ParseBytes(s)
	if err != nil {
		return 0, tarn.Errorf(tarn.EINVALID, "%s: %v", where, err)
	}
	return n, nil
}

func (a *app) openCache() (*cache.Store, error) {
	if a.svc != nil && a.svc.Mode == "remote" {
		return nil, tarn.Errorf(tarn.EINVALID, "tarn cache works on a lakehouse home, and %s is a server: run it where the server runs (tarn cache ... --home DIR)", a.svc.Location)
	}
	return cache.Open(local.Home(a.home).Cache())
}

// homeCache opens the lakehouse and its cache, for the tarn cache commands.
func (a *app) homeCache(ctx context.Context) (*cache.Store, error) {
	if err := a.open(ctx); err != nil {
		return nil, err
	}
	return a.openCache()
}

// runCache opens the cache and its bound for a run.
func (a *app) runCache() (*cache.Store, int64, error) {
	c, err := a.openCache()
	if err != nil {
		return nil, 0, err
	}
	limit, err := a.cacheLimit()
	return c, limit, err
}

func (a *app) cacheCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Inspect and trim the cache of step results and table scans",
		Long: `tarn run serves a step from the cache when its key is stored: a hash of its
code (the syntax tree of its file and of the project modules it imports, so
comments and formatting do not count; the SQL text without comments for SQL
models), its environment, its parameters and its inputs (a lake table by its
state, columns and filter; an upstream step by its key). Table scans are
cached by table state, columns and filter. The cache lives in the lakehouse
home, so every run on it (every user of a tarn serve server) shares it.

Its size is bounded by cache.max_size in $TARN_HOME/config.yml (or
$TARN_CACHE_MAX_SIZE; default 20GiB): after each run the least recently used
entries go first.

With tables in an object store (an s3:// warehouse), the local copies of
the files queries read live in $TARN_HOME/cache/objects, bounded apart by
cache.objects_max_size (or $TARN_CACHE_OBJECTS_MAX_SIZE; default 20GiB):
the least recently used copies go before each download, never one a
running query holds or one used in the last ten minutes.`,
		Example: `  tarn cache stats
  tarn cache ls
  tarn cache limit 50GiB
  tarn cache gc --max-size 5GiB
  tarn cache clear`,
	}
	cmd.AddCommand(a.cacheLs(), a.cacheStats(), a.cacheGC(), a.cacheClear(), a.cacheLimitCmd())
	return cmd
}

func (a *app) cacheLs() *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Short:   "List cache entries, most recently used first",
		Example: "  tarn cache ls\n  tarn cache ls -o json",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.homeCache(cmd.Context())
			if err != nil {
				return err
			}
			list, err := c.List()
			if err != nil {
				return err
			}
			if list == nil {
				list = []*cache.Entry{}
			}
			return a.emit(list, func(w io.Writer) {
				if len(list) == 0 {
					fmt.Fprintln(w, "the cache is empty")
					return
				}
				t := newTable(w, "KEY", "KIND", "NAME", "PROJECT", "ROWS", "SIZE", "COMPUTE", "LAST USED")
				for _, e := range list {
					t.row(e.Key[:12], e.Kind, e.Name, e.Project, count(e.Rows), table.FormatBytes(e.Bytes),
						time.Duration(e.Seconds*float64(time.Second)).Round(time.Millisecond), ago(e.LastUsed))
				}
				t.flush()
			})
		},
	}
}

func (a *app) cacheStats() *cobra.Command {
	return &cobra.Command{
		Use:     "stats",
		Short:   "Show the cache's size, limit and contents",
		Example: "  tarn cache stats -o json",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.homeCache(cmd.Context())
			if err != nil {
				return err
			}
			limit, err := a.cacheLimit()
			if err != nil {
				return err
			}
			st, err := c.Stats(limit)
			if err != nil {
				return err
			}
			objects, err := a.objectCacheStats()
			if err != nil {
				return err
			}
			out := struct {
				*cache.Stats
				Objects *objectCacheStats `json:"objects"`
			}{st, objects}
			return a.emit(out, func(w io.Writer) {
				fmt.Fprintf(w, "cache:    %s\n", st.Dir)
				fmt.Fprintf(w, "entries:  %d (%d steps, %d scans)\n", st.Entries, st.Steps, st.Scans)
				fmt.Fprintf(w, "size:     %s of %s\n", table.FormatBytes(st.Bytes), table.FormatBytes(st.MaxBytes))
				fmt.Fprintf(w, "compute:  %s stored\n", time.Duration(st.SavedSeconds*float64(time.Second)).Round(time.Millisecond))
				fmt.Fprintf(w, "\nobject cache (copies of an object store's table files):\n")
				fmt.Fprintf(w, "folder:   %s\n", objects.Dir)
				fmt.Fprintf(w, "entries:  %d\n", objects.Entries)
				fmt.Fprintf(w, "size:     %s of %s\n", table.FormatBytes(objects.Bytes), table.FormatBytes(objects.MaxBytes))
			})
		},
	}
}

// objectCacheStats are the object cache's folder, contents and bound.
type objectCacheStats struct {
	Dir      string `json:"dir"`
	Entries  int    `json:"entries"`
	Bytes    int64  `json:"bytes"`
	MaxBytes int64  `json:"max_bytes"`
}

// objectCacheStats measures the home's object cache (cache/objects),
// where queries and steps read the files of an s3:// warehouse.
func (a *app) objectCacheStats() (*objectCacheStats, error) {
	h := local.Home(a.home)
	bound, err := h.ObjectCacheBound()
	if err != nil {
		return nil, err
	}
	files, bytes, err := objcache.Measure(h.ObjectCache())
	if err != nil {
		return nil, err
	}
	return &objectCacheStats{Dir: h.ObjectCache(), Entries: files, Bytes: bytes, MaxBytes: bound}, nil
}

func (a *app) cacheGC() *cobra.Command {
	var maxSize string
	var keep time.Duration
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Evict least recently used entries down to the size limit",
		Long: `Remove least recently used entries until the cache fits its limit (or
--max-size), and leftovers of killed runs. Entries used in the last ten
minutes (--keep) are kept: a running pipeline may be reading them.`,
		Example: "  tarn cache gc\n  tarn cache gc --max-size 1GiB",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.homeCache(cmd.Context())
			if err != nil {
				return err
			}
			limit, err := a.cacheLimit()
			if err != nil {
				return err
			}
			if maxSize != "" {
				if limit, err = pipeline.ParseBytes(maxSize); err != nil {
					return &usageError{fmt.Sprintf("--max-size %q: %v", maxSize, err)}
				}
			}
			removed, err := c.GC(limit, keep)
			if err != nil {
				return err
			}
			var freed int64
			for _, e := range removed {
				freed += e.Bytes
			}
			return a.emit(map[string]any{"removed": len(removed), "freed_bytes": freed, "max_bytes": limit}, func(w io.Writer) {
				fmt.Fprintf(w, "removed %d entries, freed %s (limit %s)\n", len(removed), table.FormatBytes(freed), table.FormatBytes(limit))
			})
		},
	}
	cmd.Flags().StringVar(&maxSize, "max-size", "", "size to trim to, e.g. 5GiB (default: the configured limit)")
	cmd.Flags().DurationVar(&keep, "keep", 10*time.Minute, "spare entries used this recently")
	return cmd
}

func (a *app) cacheClear() *cobra.Command {
	return &cobra.Command{
		Use:     "clear",
		Short:   "Remove every cache entry",
		Long:    "Remove every cache entry. The next run of each step computes it again.",
		Example: "  tarn cache clear",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.homeCache(cmd.Context())
			if err != nil {
				return err
			}
			n, err := c.Clear()
			if err != nil {
				return err
			}
			return a.emit(map[string]any{"removed": n}, func(w io.Writer) { fmt.Fprintf(w, "removed %d entries\n", n) })
		},
	}
}

func (a *app) cacheLimitCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "limit [SIZE]",
		Short:   "Show or set the cache's size limit (cache.max_size in $TARN_HOME/config.yml)",
		Example: "  tarn cache limit\n  tarn cache limit 50GiB",
		Args:    rangeArgs(0, 1, "[SIZE]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			if len(args) == 1 {
				if _, err := pipeline.ParseBytes(args[0]); err != nil {
					return &usageError{fmt.Sprintf("size %q: %v", args[0], err)}
				}
				h := local.Home(a.home)
				c, err := h.Config()
				if err != nil {
					return err
				}
				c.Cache.MaxSize = args[0]
				if err := h.SetConfig(c); err != nil {
					return err
				}
			}
			limit, err := a.cacheLimit()
			if err != nil {
				return err
			}
			return a.emit(map[string]any{"max_bytes": limit}, func(w io.Writer) { fmt.Fprintf(w, "cache limit: %s\n", table.FormatBytes(limit)) })
		},
	}
}
