package local

import (
	"context"
	"fmt"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/pipeline"
	"github.com/tarnhq/tarn/python"
	rt "github.com/tarnhq/tarn/runtime"
)

// runService implements tarn.RunService with the pipeline runner.
type runService struct{ l *Lakehouse }

var _ tarn.RunService = (*runService)(nil)

// Run loads the project in req.ProjectDir and runs it. The first event
// (kind "start") names the project, the target and the isolation in force.
func (s *runService) Run(ctx context.Context, req tarn.RunRequest, events func(tarn.RunEvent)) (*tarn.RunResult, error) {
	home := s.l.home
	sdkDir, err := python.Extract(home.SDK())
	if err != nil {
		return nil, err
	}
	uv, err := rt.FindUV(s.l.cfg.UV)
	if err != nil {
		return nil, err
	}
	sandbox, err := s.l.Sandbox(ctx)
	if err != nil {
		return nil, err
	}
	envs := &rt.EnvManager{Dir: home.Envs(), UV: uv, SDKVersion: python.Version(), SDKDir: sdkDir, Sandbox: sandbox,
		BuildLimits: s.l.cfg.BuildLimits}
	runner := &pipeline.Runner{Tables: s.l.tables, Envs: envs, Sandbox: sandbox, Limits: s.l.cfg.StepLimits, MaxMemory: s.l.cfg.MaxStepMemory, SDKDir: sdkDir,
		Pool: rt.NewPool(rt.PoolOptions{}), // warm workers of this run (their sandboxes bind its directories)
		Secrets: func() (pipeline.SecretKeys, error) {
			keys, err := s.l.SecretKeys()
			if err != nil {
				return nil, err
			}
			return keys, nil
		}}
	defer runner.Pool.Close()
	if s.l.cfg.RunCache != nil {
		if runner.Cache, runner.CacheMaxBytes, err = s.l.cfg.RunCache(); err != nil {
			return nil, err
		}
		// With the warehouse in a bucket, the cache has a tier there that
		// every server of the lakehouse shares.
		tier, err := s.l.tables.CacheTier(ctx)
		if err != nil {
			return nil, err
		}
		if tier != nil {
			defer tier.Close()
			runner.Cache.SetRemote(tier)
		}
	}
	project, err := (&pipeline.Discoverer{SDKDir: sdkDir, Interpreter: envs.InterpreterPath, Sandbox: sandbox}).Load(ctx, req.ProjectDir)
	if err != nil {
		return nil, err
	}
	if envs.Index, err = s.l.cfg.Packages.Resolve(project.Index, req.Author); err != nil {
		return nil, err
	}
	if err := s.l.cfg.Internet.check(ctx, s.l.users, project, req.Author); err != nil {
		return nil, err
	}
	if s.l.cfg.Internet.Egress && sandbox.Isolation == rt.IsolationBubblewrap {
		if runner.Egress, err = rt.NewEgress(home.Sandbox(), rt.InternetEgress(s.l.cfg.Internet.PrivateOK)); err != nil {
			return nil, err
		}
		defer runner.Egress.Close()
		runner.Egress.Refused = func(dest string, err error) {
			if events != nil {
				events(tarn.RunEvent{Kind: tarn.EventInfo, Message: "network: " + err.Error()})
			}
		}
	}
	emit := func(e tarn.RunEvent) {
		if events != nil {
			events(e)
		}
	}
	runner.Events = emit
	mode := "run"
	if req.DryRun {
		mode = "dry run (nothing is materialized)"
	}
	emit(tarn.RunEvent{Kind: tarn.EventStart, Message: fmt.Sprintf("tarn %s of project %s on %s\nisolation: %s", mode, project.Name, req.Ref, sandbox.Describe())})
	res, runErr := runner.Run(ctx, project, pipeline.RunOptions{Ref: req.Ref, Params: req.Params, DryRun: req.DryRun, Strict: req.Strict,
		Preview: req.Preview, Author: req.Author, NoCache: req.NoCache, Namespace: req.Namespace})
	if res != nil && res.Steps == nil {
		res.Steps = []*tarn.StepReport{}
	}
	return res, runErr
}
