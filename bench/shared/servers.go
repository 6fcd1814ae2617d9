package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/bench/internal/benchkit"
	"github.com/tarnhq/tarn/client"
)

// serversCase is one configuration: n servers with one run slot each.
type serversCase struct {
	Servers       int       `json:"servers"`
	WallS         []float64 `json:"wall_s"`
	MedianWallS   float64   `json:"median_wall_s"`
	RunsPerMinute float64   `json:"runs_per_minute"`
	// MostAtOnce is the most runs that were running at one moment (from
	// the jobs' start and end times): two means both servers ran runs.
	MostAtOnce  int  `json:"most_at_once"`
	ExactlyOnce bool `json:"every_run_exactly_once"`
}

type serversFigure struct {
	Runs   int         `json:"runs"`
	Rounds int         `json:"rounds"`
	One    serversCase `json:"one"`
	Two    serversCase `json:"two"`
	Ratio  float64     `json:"ratio"`
}

const projectYAML = "name: bench_shared\ndefaults:\n  python: \"3.11\"\n  timeout: 600\n"

// model makes a new value every time it runs, so that a run done twice
// would leave two commits on its branch.
const model = `import tarn
import uuid
import pyarrow as pa

@tarn.model(materialization_strategy="REPLACE")
def once():
    print("running", flush=True)
    return pa.table({"run": [uuid.uuid4().hex]})
`

// servers times, for one server and for two on one database (one home),
// runs submitted at once, alternately to the servers, each on a branch of
// its own; a run counts once when its job succeeded and its branch has
// exactly one commit of a run.
func servers(ctx context.Context, cfg config, bin, tmp string) (*serversFigure, error) {
	catalogURL, err := schemaURL(cfg.postgres, "servers")
	if err != nil {
		return nil, err
	}
	home := filepath.Join(tmp, "home")
	project := filepath.Join(tmp, "project")
	os.MkdirAll(project, 0o755)
	os.WriteFile(filepath.Join(project, "tarn_project.yml"), []byte(projectYAML), 0o644)
	os.WriteFile(filepath.Join(project, "once.py"), []byte(model), 0o644)
	start := func(n int) ([]*tarn.Services, func(), error) {
		var svcs []*tarn.Services
		var stops []func()
		stop := func() {
			for _, s := range svcs {
				s.Close()
			}
			for _, s := range stops {
				s()
			}
		}
		for range n {
			url, s, err := benchkit.Serve(bin, tmp, home, "--catalog", catalogURL, "--max-runs", "1")
			if err != nil {
				stop()
				return nil, nil, err
			}
			stops = append(stops, s)
			svc, err := client.New(client.Config{Endpoint: url})
			if err != nil {
				stop()
				return nil, nil, err
			}
			svcs = append(svcs, svc)
		}
		return svcs, stop, nil
	}
	kit.Logf("servers: a first run builds the model's environment")
	svcs, stop, err := start(1)
	if err != nil {
		return nil, err
	}
	_, err = svcs[0].Runs.Run(ctx, tarn.RunRequest{ProjectDir: project, Ref: tarn.DefaultBranch}, nil)
	stop()
	if err != nil {
		return nil, err
	}
	f := &serversFigure{Runs: cfg.runs, Rounds: cfg.rounds, One: serversCase{Servers: 1, ExactlyOnce: true}, Two: serversCase{Servers: 2, ExactlyOnce: true}}
	for round := range cfg.rounds {
		order := []*serversCase{&f.One, &f.Two}
		if round%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, c := range order {
			svcs, stop, err := start(c.Servers)
			if err != nil {
				return nil, err
			}
			wall, most, once, err := submitRuns(ctx, svcs, project, fmt.Sprintf("r%d_s%d", round, c.Servers), cfg.runs)
			stop()
			if err != nil {
				return nil, err
			}
			c.WallS = append(c.WallS, wall.Seconds())
			c.MostAtOnce = max(c.MostAtOnce, most)
			c.ExactlyOnce = c.ExactlyOnce && once
			kit.Logf("servers: round %d, %d server(s): %d runs in %.1f s, at most %d at once, each exactly once: %v", round+1, c.Servers, cfg.runs, wall.Seconds(), most, once)
		}
	}
	for _, c := range []*serversCase{&f.One, &f.Two} {
		c.MedianWallS = benchkit.Median(c.WallS)
		c.RunsPerMinute = float64(cfg.runs) / c.MedianWallS * 60
	}
	f.Ratio = f.Two.RunsPerMinute / f.One.RunsPerMinute
	return f, nil
}

// submitRuns submits runs detached, all at once, alternately to svcs,
// each on a new branch, and waits for them. It returns the time from the
// first submission to the last end, the most runs running at one moment,
// and whether every run succeeded and committed exactly once.
func submitRuns(ctx context.Context, svcs []*tarn.Services, project, tag string, runs int) (time.Duration, int, bool, error) {
	branches := make([]string, runs)
	for i := range branches {
		branches[i] = fmt.Sprintf("bench.%s_%d", tag, i)
		if _, err := svcs[i%len(svcs)].Refs.CreateRef(ctx, tarn.KindBranch, branches[i], tarn.DefaultBranch); err != nil {
			return 0, 0, false, err
		}
	}
	ids := make([]string, runs)
	errs := make([]error, runs)
	started := time.Now()
	var wg sync.WaitGroup
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j, err := svcs[i%len(svcs)].Jobs.SubmitRun(ctx, tarn.RunRequest{ProjectDir: project, Ref: branches[i], NoCache: true})
			if err == nil {
				ids[i] = j.ID
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, 0, false, err
	}
	jobs := make([]*tarn.Job, runs)
	for i, id := range ids {
		for {
			j, err := svcs[(i+1)%len(svcs)].Jobs.GetJob(ctx, id)
			if err != nil {
				return 0, 0, false, err
			}
			if j.Done() {
				jobs[i] = j
				break
			}
			select {
			case <-ctx.Done():
				return 0, 0, false, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	once := true
	var last time.Time
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for i, j := range jobs {
		if j.State != tarn.JobSucceeded || j.Started == nil || j.Finished == nil {
			kit.Logf("servers: run %s on %s ended %s: %+v", j.ID, branches[i], j.State, j.Error)
			once = false
			continue
		}
		if j.Finished.After(last) {
			last = *j.Finished
		}
		edges = append(edges, edge{*j.Started, 1}, edge{*j.Finished, -1})
		log, err := svcs[0].Refs.Log(ctx, branches[i], 0)
		if err != nil {
			return 0, 0, false, err
		}
		commits := 0
		for _, c := range log {
			if c.Properties["tarn.run_id"] != "" {
				commits++
			}
		}
		// main's history holds the first run's commit (the warm-up).
		if commits != 2 {
			kit.Logf("servers: branch %s has %d run commits besides the warm-up's, want 1", branches[i], commits-1)
			once = false
		}
	}
	sort.Slice(edges, func(a, b int) bool {
		return edges[a].at.Before(edges[b].at) || edges[a].at.Equal(edges[b].at) && edges[a].delta < edges[b].delta
	})
	most, now := 0, 0
	for _, e := range edges {
		now += e.delta
		most = max(most, now)
	}
	return last.Sub(started), most, once, nil
}
