// Command s3out measures how a pipeline output reaches a table in an
// S3-compatible object store, in one run: the same Arrow IPC output of
// about a million rows (lineitem-like columns) materialized with REPLACE
// by the pyarrow writer (written on the local disk, then uploaded:
// the fast path) and by iceberg-go's writer (arrow-go's Parquet writer
// through the S3 FileIO), in alternating rounds, each timed from
// Materialize to its commit. The figure is Go time / pyarrow time
// (above 1: the fast path pays).
//
//	scripts/versitygw.sh start; set -a; . .tmp/versitygw.env; set +a
//	go run ./bench/s3out [-rows 1000000] [-rounds 3] [-json]
//
// It needs a Python with pyarrow ($TARN_PYTHON, default .venv/bin/python)
// and the AWS_* settings of an S3-compatible server.
package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/bench/internal/benchkit"
	"github.com/tarnhq/tarn/catalog"
	"github.com/tarnhq/tarn/catalog/sqlstore"
	"github.com/tarnhq/tarn/pipeline"
	"github.com/tarnhq/tarn/table"
)

var kit = benchkit.New("s3out")

type config struct {
	rows, rounds   int
	bucket, python string
}

type report struct {
	Host       string    `json:"host"`
	Endpoint   string    `json:"endpoint"`
	Rows       int       `json:"rows"`
	ArrowBytes int64     `json:"arrow_bytes"`
	Rounds     int       `json:"rounds"`
	PyArrow    []float64 `json:"pyarrow_s"`
	IcebergGo  []float64 `json:"iceberg_go_s"`
	PyMedian   float64   `json:"pyarrow_median_s"`
	GoMedian   float64   `json:"iceberg_go_median_s"`
	Ratio      float64   `json:"go_over_pyarrow"`
	PyWriter   string    `json:"pyarrow_case_writer"`
}

func main() {
	var cfg config
	fs := kit.Flags
	fs.IntVar(&cfg.rows, "rows", 1_000_000, "rows of the output")
	fs.IntVar(&cfg.rounds, "rounds", 3, "rounds (each writes the output once with each writer)")
	fs.StringVar(&cfg.bucket, "bucket", os.Getenv("TARN_TEST_S3_BUCKET"), "bucket of the S3 warehouse (default $TARN_TEST_S3_BUCKET); the endpoint and credentials come from AWS_*")
	fs.StringVar(&cfg.python, "python", os.Getenv("TARN_PYTHON"), "Python with pyarrow (default $TARN_PYTHON, else .venv/bin/python)")
	kit.Main(func(ctx context.Context) error { return run(ctx, cfg) })
}

func run(ctx context.Context, cfg config) error {
	if cfg.bucket == "" || table.S3Endpoint() == "" && os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		return benchkit.Usagef("no S3 server: scripts/versitygw.sh start; set -a; . .tmp/versitygw.env; set +a (or give -bucket and the AWS_* settings)")
	}
	if cfg.python == "" {
		cfg.python = ".venv/bin/python"
	}
	python, err := filepath.Abs(cfg.python)
	if err != nil {
		return err
	}
	sdk, err := filepath.Abs("python")
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tarn-s3out-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	output := filepath.Join(dir, "out.arrow")
	if err := writeOutput(output, cfg.rows); err != nil {
		return err
	}
	st, err := os.Stat(output)
	if err != nil {
		return err
	}
	store, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		return err
	}
	cat, err := catalog.Open(ctx, store)
	if err != nil {
		return err
	}
	defer cat.Close()
	warehouse := fmt.Sprintf("s3://%s/bench-s3out-%d", cfg.bucket, time.Now().UnixNano())
	svc := table.NewService(cat, table.Config{Warehouse: warehouse, CacheDir: filepath.Join(dir, "cache")})
	writer := pipeline.NewParquetWriter(python, sdk, filepath.Join(dir, "stage"))
	rep := report{Host: benchkit.Host(), Endpoint: table.S3Endpoint(), Rows: cfg.rows, ArrowBytes: st.Size(), Rounds: cfg.rounds}
	materialize := func(name string, w table.ParquetWriter) (float64, *table.MaterializeResult, error) {
		start := time.Now()
		ss, err := svc.OpenSession(ctx, tarn.DefaultBranch)
		if err != nil {
			return 0, nil, err
		}
		defer ss.Close(ctx)
		res, err := svc.Materialize(ctx, ss, table.MaterializeRequest{Ident: tarn.TableIdent{Namespace: tarn.DefaultNamespace, Name: name},
			Path: output, Strategy: table.StrategyReplace, Writer: w})
		if err != nil {
			return 0, nil, err
		}
		if _, err := ss.Flush(ctx, tarn.CommitInfo{Author: "bench", Message: "s3out " + name}); err != nil {
			return 0, nil, err
		}
		if res.Entry == nil || res.Entry.Rows != int64(cfg.rows) {
			return 0, nil, fmt.Errorf("%s: the table holds %v rows, want %d", name, res.Entry, cfg.rows)
		}
		return time.Since(start).Seconds(), res, nil
	}
	for round := range cfg.rounds {
		py, res, err := materialize("out_pyarrow", writer)
		if err != nil {
			return err
		}
		rep.PyWriter = res.Writer
		if res.Writer != table.WriterPyArrow {
			return fmt.Errorf("the pyarrow case was written by %s: %s", res.Writer, res.Fallback)
		}
		gw, _, err := materialize("out_go", nil)
		if err != nil {
			return err
		}
		rep.PyArrow, rep.IcebergGo = append(rep.PyArrow, py), append(rep.IcebergGo, gw)
		kit.Logf("round %d: pyarrow %.2fs, iceberg-go %.2fs", round+1, py, gw)
	}
	rep.PyMedian, rep.GoMedian = benchkit.Median(rep.PyArrow), benchkit.Median(rep.IcebergGo)
	if rep.PyMedian > 0 {
		rep.Ratio = rep.GoMedian / rep.PyMedian
	}
	return kit.Report(rep, func(w io.Writer) {
		fmt.Fprintf(w, "bench/s3out (%s): one output of %d rows (%.0f MB of Arrow) into an S3 warehouse on %s, REPLACE, median of %d rounds\n",
			rep.Host, rep.Rows, float64(rep.ArrowBytes)/1e6, rep.Endpoint, rep.Rounds)
		fmt.Fprintf(w, "  pyarrow writer, uploaded (fast path)  %6.2f s\n", rep.PyMedian)
		fmt.Fprintf(w, "  iceberg-go writer                      %6.2f s\n", rep.GoMedian)
		fmt.Fprintf(w, "  iceberg-go / pyarrow                   %6.2fx\n", rep.Ratio)
	})
}

// writeOutput writes rows of lineitem-like columns as an Arrow IPC file
// in batches of 65,536 rows.
func writeOutput(path string, rows int) error {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "orderkey", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "quantity", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "flag", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "shipdate", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "comment", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(schema))
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(7, 11))
	words := []string{"carefully", "final", "deposits", "sleep", "quickly", "ironic", "packages", "boost", "among", "the", "furiously"}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for done := 0; done < rows; {
		n := min(65536, rows-done)
		for i := range n {
			b.Field(0).(*array.Int64Builder).Append(int64(done + i))
			b.Field(1).(*array.Int32Builder).Append(int32(1 + rng.IntN(50)))
			b.Field(2).(*array.Float64Builder).Append(float64(rng.IntN(10_000_000)) / 100)
			b.Field(3).(*array.StringBuilder).Append([]string{"A", "N", "R"}[rng.IntN(3)])
			b.Field(4).(*array.Date32Builder).Append(arrow.Date32(8000 + rng.IntN(2500)))
			c := words[rng.IntN(len(words))] + " " + words[rng.IntN(len(words))] + " " + words[rng.IntN(len(words))] + " " + words[rng.IntN(len(words))]
			b.Field(5).(*array.StringBuilder).Append(c)
		}
		rec := b.NewRecordBatch()
		err := w.Write(rec)
		rec.Release()
		if err != nil {
			return err
		}
		done += n
	}
	return w.Close()
}
