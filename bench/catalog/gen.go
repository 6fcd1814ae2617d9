package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// csvHeader is the header of the generated input: an event log with a
// long, a timestamp with zone, a low-cardinality string, an int, a double
// and a random 64-character base64url payload, so that the table's
// compressed Parquet stays about half the size of the CSV.
const csvHeader = "id,ts,category,qty,amount,payload\n"

var categories = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"}

// genResult describes generated input files.
type genResult struct {
	Dir   string
	Files int
	Rows  int64
	Bytes int64
}

// genCSV writes CSV files totalling about total bytes into dir (which it
// creates), each at most fileBytes, several files at a time. written is
// advanced as bytes are produced (for progress).
func genCSV(ctx context.Context, dir string, total, fileBytes int64, seed uint64, written *atomic.Int64) (genResult, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return genResult{}, err
	}
	nfiles := int((total + fileBytes - 1) / fileBytes)
	nfiles = max(nfiles, 1)
	sizes := make([]int64, nfiles)
	for i := range sizes {
		sizes[i] = min(fileBytes, total-int64(i)*fileBytes)
	}
	rows := make([]int64, nfiles)
	bytes := make([]int64, nfiles)
	errs := make([]error, nfiles)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), nfiles) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				path := filepath.Join(dir, fmt.Sprintf("part-%04d.csv", i))
				rows[i], bytes[i], errs[i] = genFile(ctx, path, sizes[i], int64(i)<<32, seed+uint64(i), written)
			}
		}()
	}
	for i := range nfiles {
		next <- i
	}
	close(next)
	wg.Wait()
	res := genResult{Dir: dir, Files: nfiles}
	for i := range nfiles {
		if errs[i] != nil {
			return res, errs[i]
		}
		res.Rows += rows[i]
		res.Bytes += bytes[i]
	}
	return res, nil
}

// genFile writes one CSV file of about size bytes whose ids start at
// firstID.
func genFile(ctx context.Context, path string, size, firstID int64, seed uint64, written *atomic.Int64) (rows, n int64, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	line := make([]byte, 0, 256)
	nw, _ := w.WriteString(csvHeader)
	n = int64(nw)
	var reported int64
	for n < size {
		if rows%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return rows, n, err
			}
			written.Add(n - reported)
			reported = n
		}
		id := firstID + rows
		line = line[:0]
		line = strconv.AppendInt(line, id, 10)
		line = append(line, ',')
		line = base.Add(time.Duration(id%(3*365*86400))*time.Second).AppendFormat(line, time.RFC3339)
		line = append(line, ',')
		line = append(line, categories[rng.IntN(len(categories))]...)
		line = append(line, ',')
		line = strconv.AppendInt(line, int64(rng.IntN(1000)), 10)
		line = append(line, ',')
		line = strconv.AppendFloat(line, float64(rng.IntN(10_000_000))/100, 'f', 2, 64)
		line = append(line, ',')
		for range 8 {
			v := rng.Uint64()
			for range 8 {
				line = append(line, alphabet[v&63])
				v >>= 6
			}
		}
		line = append(line, '\n')
		nw, err := w.Write(line)
		if err != nil {
			return rows, n, err
		}
		n += int64(nw)
		rows++
	}
	written.Add(n - reported)
	return rows, n, w.Flush()
}
