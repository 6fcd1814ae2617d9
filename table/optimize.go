package table

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"
	icetable "github.com/apache/iceberg-go/table"
	"github.com/tarnhq/tarn"
)

var _ tarn.Optimizer = (*Service)(nil)

// DefaultTargetFileSize is the file size a compaction aims at.
const DefaultTargetFileSize = 256 << 20

// Optimize implements tarn.Optimizer: it rewrites the table's data files
// (applying delete files) into files of about req.TargetFileSize, as one
// overwrite snapshot (summary tarn.operation=optimize) in one commit on
// the branch. The rows are unchanged. A table moved meanwhile by another
// writer is a conflict, and what the compaction wrote is removed.
func (s *Service) Optimize(ctx context.Context, req tarn.OptimizeRequest) (*tarn.OptimizeResult, error) {
	if req.TargetFileSize < 0 {
		return nil, tarn.Errorf(tarn.EINVALID, "optimize %s: the target file size must be positive", req.Table)
	}
	target := req.TargetFileSize
	if target == 0 {
		target = DefaultTargetFileSize
	}
	ss, err := s.OpenSession(ctx, req.Branch)
	if err != nil {
		return nil, err
	}
	defer ss.Close(ctx)
	before, err := ss.entry(ctx, req.Table.Key())
	if err != nil {
		return nil, err
	}
	if before == nil {
		return nil, s.TableNotFound(ctx, ss.Base(), req.Branch, req.Table)
	}
	tbl, err := ss.LoadTable(ctx, icetable.Identifier{req.Table.Namespace, req.Table.Name})
	if err != nil {
		return nil, translate(err, "load table "+req.Table.String())
	}
	res := &tarn.OptimizeResult{Table: req.Table, Branch: req.Branch, Commit: ss.Base(), Rows: before.Rows}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		return nil, fmt.Errorf("optimize %s: plan the scan: %w", req.Table, err)
	}
	deletes := 0
	partitions := map[string]bool{}
	for _, t := range tasks {
		res.FilesBefore++
		res.BytesBefore += t.File.FileSizeBytes()
		deletes += len(t.DeleteFiles)
		partitions[fmt.Sprint(t.File.SpecID(), t.File.Partition())] = true
	}
	if deletes == 0 && res.FilesBefore <= len(partitions) {
		res.FilesAfter, res.BytesAfter, res.Unchanged = res.FilesBefore, res.BytesBefore, true
		return res, nil
	}
	tx := tbl.NewTransaction()
	props := tbl.Properties()
	const sizeProp = "write.target-file-size-bytes"
	old, had := props[sizeProp]
	if err := tx.SetProperties(iceberg.Properties{sizeProp: fmt.Sprint(target)}); err != nil {
		return nil, err
	}
	schema, recs, err := tbl.Scan().ToArrowRecords(ctx)
	if err != nil {
		return nil, fmt.Errorf("optimize %s: read the table: %w", req.Table, err)
	}
	rdr := array.ReaderFromIter(schema, recs)
	defer rdr.Release()
	if err := tx.Overwrite(ctx, rdr, iceberg.Properties{"tarn.operation": "optimize"}); err != nil {
		return nil, fmt.Errorf("optimize %s: %w", req.Table, err)
	}
	if had {
		err = tx.SetProperties(iceberg.Properties{sizeProp: old})
	} else {
		err = tx.RemoveProperties([]string{sizeProp})
	}
	if err != nil {
		return nil, err
	}
	committed, err := tx.Commit(ctx)
	if err != nil {
		return nil, translate(err, "commit table "+req.Table.String())
	}
	if snap := committed.CurrentSnapshot(); snap == nil || snap.Summary == nil || snap.Summary.Properties["total-records"] != fmt.Sprint(before.Rows) {
		return nil, tarn.Errorf(tarn.EINTERNAL, "optimize %s: the rewritten table does not hold the %d rows it had; nothing was committed", req.Table, before.Rows)
	}
	after, err := committed.Scan().PlanFiles(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range after {
		res.FilesAfter++
		res.BytesAfter += t.File.FileSizeBytes()
	}
	info := req.Info
	if info.Message == "" {
		info.Message = fmt.Sprintf("optimize %s: %d files into %d", req.Table, res.FilesBefore, res.FilesAfter)
	}
	w, err := s.finish(ctx, ss, req.Table, req.Branch, info, before, nil)
	if err != nil {
		return nil, err
	}
	res.Commit = w.Commit
	return res, nil
}
