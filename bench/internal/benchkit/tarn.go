package benchkit

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/tarnhq/tarn/python"
	rt "github.com/tarnhq/tarn/runtime"
)

// TarnFlag registers -tarn, the tarn binary a benchmark times, and returns
// its value; pass it to Tarn.
func (b *Bench) TarnFlag() *string {
	return b.Flags.String("tarn", "", "tarn binary (default: go build ./cmd/tarn into the temporary directory)")
}

// Tarn returns the tarn binary to time: path when it is given, else one
// built with `go build ./cmd/tarn` in the tarn module that holds the
// working directory, written to dir/tarn.
func (b *Bench) Tarn(ctx context.Context, path, dir string) (string, error) {
	if path != "" {
		return path, nil
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "tarn")
	b.Logf("go build -o %s ./cmd/tarn", bin)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/tarn")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build tarn: %v: %s", err, out)
	}
	return bin, nil
}

// moduleRoot returns the directory of the go.mod that holds the working
// directory.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run from inside the tarn module (or pass -tarn BINARY)")
	}
	return filepath.Dir(gomod), nil
}

// HomeEnv builds (or finds) the Python environment of spec in the tarn
// home home the way `tarn run` does (same key: a run finds it cached),
// with tarn's SDK extracted into home/sdk, and returns it and the SDK's
// folder: a baseline script runs in the environment its models run in.
func (b *Bench) HomeEnv(ctx context.Context, home string, spec rt.EnvSpec) (*rt.Env, string, error) {
	sdk, err := python.Extract(filepath.Join(home, "sdk"))
	if err != nil {
		return nil, "", err
	}
	uv, err := rt.FindUV(os.Getenv("TARN_UV"))
	if err != nil {
		return nil, "", err
	}
	em := &rt.EnvManager{Dir: filepath.Join(home, "envs"), UV: uv, SDKVersion: python.Version(), SDKDir: sdk} // as cmd/tarn does
	env, err := em.Ensure(ctx, spec, func(s string) { b.Logf("%s", s) })
	return env, sdk, err
}

// TableFiles lists the Parquet files of a table under a local warehouse
// (every file below a folder named after it), the files a baseline reads.
func TableFiles(warehouse, table string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(warehouse, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") && strings.Contains(p, string(filepath.Separator)+table+string(filepath.Separator)) {
			files = append(files, p)
		}
		return err
	})
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("no data files of %s under %s", table, warehouse)
	}
	return files, err
}
