//go:build integration

package postgres_test

import (
	"context"
	"testing"

	"github.com/tarnhq/tarn/jobs"
	"github.com/tarnhq/tarn/jobs/jobstest"
	"github.com/tarnhq/tarn/postgres"
	"github.com/tarnhq/tarn/users"
	"github.com/tarnhq/tarn/users/userstest"
)

func TestUserStore_Conformance(t *testing.T) {
	userstest.Run(t, func(t *testing.T) users.Store { return openDB(t).Users() })
}

func TestJobStore_Conformance(t *testing.T) {
	jobstest.Run(t, func(t *testing.T) (jobs.Store, func() jobs.Store) {
		dsn := testDSN(t)
		open := func() jobs.Store {
			db, err := postgres.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			return db.Jobs()
		}
		return open(), open
	})
}
