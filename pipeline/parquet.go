package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"

	rt "github.com/tarnhq/tarn/runtime"
	"github.com/tarnhq/tarn/table"
)

// pyParquet writes a step's output as Parquet with pyarrow in the step's
// environment (python -m tarn._parquet): tarn's own code, run outside the
// sandbox because it writes into the warehouse.
type pyParquet struct {
	env    *rt.Env
	sdkDir string
}

func (w pyParquet) WriteParquet(ctx context.Context, req table.ParquetWrite) ([]string, error) {
	body, err := json.Marshal(map[string]any{
		"source": req.Source, "paths": req.Paths, "field_ids": req.FieldIDs, "schema": req.Schema,
		"compression": req.Compression, "level": req.Level,
	})
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, w.env.Python, "-m", "tarn._parquet")
	cmd.Env = []string{"PYTHONPATH=" + w.sdkDir, "PATH=" + os.Getenv("PATH"), "PYTHONDONTWRITEBYTECODE=1"}
	cmd.Stdin = bytes.NewReader(body)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("pyarrow Parquet writer: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	var res struct {
		Paths      []string `json:"paths"`
		CannotCast string   `json:"cannot_cast"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return nil, fmt.Errorf("pyarrow Parquet writer: unreadable answer %q: %v", stdout.String(), err)
	}
	if res.CannotCast != "" {
		return nil, fmt.Errorf("%w: %s", table.ErrCannotCast, res.CannotCast)
	}
	return res.Paths, nil
}
