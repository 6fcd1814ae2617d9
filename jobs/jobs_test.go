package jobs_test

import (
	"path/filepath"
	"testing"

	"github.com/tarnhq/tarn/jobs"
	"github.com/tarnhq/tarn/jobs/jobstest"
)

func TestFileStore_Conformance(t *testing.T) {
	jobstest.Run(t, func(t *testing.T) (jobs.Store, func() jobs.Store) {
		dir := filepath.Join(t.TempDir(), "jobs")
		return jobs.NewFileStore(dir), func() jobs.Store { return jobs.NewFileStore(dir) }
	})
}
