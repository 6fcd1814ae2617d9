package main

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/bench/internal/benchkit"
	"github.com/tarnhq/tarn/client"
	"github.com/tarnhq/tarn/local"
	"github.com/tarnhq/tarn/server"
)

// repeatQuery is a query service whose results repeat one in-memory batch:
// it measures the server and client alone (IPC encoding, HTTP on loopback,
// decoding), without an engine producing rows.
type repeatQuery struct {
	batch arrow.RecordBatch
	n     int
}

func (q *repeatQuery) Query(ctx context.Context, req tarn.QueryRequest) (*tarn.QueryResult, error) {
	recs := make([]arrow.RecordBatch, q.n)
	for i := range recs {
		recs[i] = q.batch
	}
	rdr, err := array.NewRecordReader(q.batch.Schema(), recs)
	if err != nil {
		return nil, err
	}
	return &tarn.QueryResult{QueryInfo: tarn.QueryInfo{Commit: &tarn.Commit{}, TotalRows: -1}, Schema: q.batch.Schema(), Records: rdr,
		Closer: func() error { rdr.Release(); return nil }}, nil
}

func (q *repeatQuery) CopyTo(context.Context, tarn.QueryRequest, string, string) (*tarn.CopyResult, error) {
	return nil, tarn.Errorf(tarn.EINVALID, "not supported")
}

// transport returns the GB/s of Arrow data streamed from a server to the
// HTTP client on loopback (4 int64 columns, 64Ki-row batches, totalRows rows).
func (b *bench) transport(ctx context.Context, totalRows int) (float64, error) {
	const batchRows = 1 << 16
	mem := memory.NewGoAllocator()
	fields := []arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}, {Name: "b", Type: arrow.PrimitiveTypes.Int64},
		{Name: "c", Type: arrow.PrimitiveTypes.Int64}, {Name: "d", Type: arrow.PrimitiveTypes.Int64}}
	bld := array.NewRecordBuilder(mem, arrow.NewSchema(fields, nil))
	defer bld.Release()
	for c := range fields {
		ib := bld.Field(c).(*array.Int64Builder)
		for i := 0; i < batchRows; i++ {
			ib.Append(int64(i * (c + 1)))
		}
	}
	batch := bld.NewRecordBatch()
	defer batch.Release()
	lh, err := local.Open(ctx, local.Config{Home: filepath.Join(b.tmp, "transport")})
	if err != nil {
		return 0, err
	}
	defer lh.Close()
	svc := lh.Services()
	svc.Query = &repeatQuery{batch: batch, n: max(1, totalRows/batchRows)}
	srv := &server.Server{Services: svc, Jobs: lh.Jobs(), Users: lh.Users(), Insecure: true}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(ln)
	defer hs.Close()
	remote, err := client.New(client.Config{Endpoint: "http://" + ln.Addr().String()})
	if err != nil {
		return 0, err
	}
	var rates []float64
	for i := 0; i < 3; i++ {
		started := time.Now()
		res, err := remote.Query.Query(ctx, tarn.QueryRequest{SQL: "x", Ref: "main"})
		if err != nil {
			return 0, err
		}
		var n int64
		for res.Records.Next() {
			n += arrowBytes(res.Records.RecordBatch())
		}
		err = res.Records.Err()
		res.Close()
		if err != nil {
			return 0, err
		}
		rates = append(rates, float64(n)/time.Since(started).Seconds()/1e9)
	}
	return benchkit.Median(rates), nil
}

func arrowBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, col := range rec.Columns() {
		for _, buf := range col.Data().Buffers() {
			if buf != nil {
				n += int64(buf.Len())
			}
		}
	}
	return n
}
