package main

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/tarnhq/tarn/bench/internal/benchkit"
)

// dist summarizes a set of timings. Percentiles are nearest-rank: p50 of
// 1000 samples is the 500th smallest, p99 the 990th.
type dist struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	Min  float64 `json:"min_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

func summarize(samples []time.Duration) dist {
	if len(samples) == 0 {
		return dist{}
	}
	var sum time.Duration
	for _, d := range samples {
		sum += d
	}
	return dist{
		N:    len(samples),
		P50:  benchkit.Ms(benchkit.Percentile(samples, 0.50)),
		P90:  benchkit.Ms(benchkit.Percentile(samples, 0.90)),
		P99:  benchkit.Ms(benchkit.Percentile(samples, 0.99)),
		Min:  benchkit.Ms(slices.Min(samples)),
		Max:  benchkit.Ms(slices.Max(samples)),
		Mean: benchkit.Ms(sum / time.Duration(len(samples))),
	}
}

// quarterP50s returns the p50 of the first and of the last quarter of
// samples in run order: a cost that grows as the run adds history shows as
// last > first.
func quarterP50s(samples []time.Duration) (first, last float64) {
	q := len(samples) / 4
	if q == 0 {
		return 0, 0
	}
	return summarize(samples[:q]).P50, summarize(samples[len(samples)-q:]).P50
}

// ratio returns a/b rounded to 3 decimals (0 when b is 0).
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return math.Round(a/b*1000) / 1000
}

// fmtMs renders milliseconds with a unit that keeps three significant digits.
func fmtMs(v float64) string {
	switch {
	case v >= 10000:
		return fmt.Sprintf("%.1fs", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0fms", v)
	case v >= 10:
		return fmt.Sprintf("%.1fms", v)
	case v >= 1:
		return fmt.Sprintf("%.2fms", v)
	default:
		return fmt.Sprintf("%.0fµs", v*1000)
	}
}

// pair runs n rounds of two timed operations, alternating which goes first
// (A B, B A, A B, ...) so that drift on a shared machine lands on both
// sides. Each function runs its own setup and returns only the duration of
// the measured call. The first warmup rounds are run but not recorded.
func pair(n, warmup int, a, b func(i int) (time.Duration, error)) (as, bs []time.Duration, err error) {
	for i := 0; i < warmup+n; i++ {
		first, second := a, b
		if i%2 == 1 {
			first, second = b, a
		}
		d1, err := first(i)
		if err != nil {
			return nil, nil, err
		}
		d2, err := second(i)
		if err != nil {
			return nil, nil, err
		}
		if i < warmup {
			continue
		}
		if i%2 == 1 {
			d1, d2 = d2, d1
		}
		as, bs = append(as, d1), append(bs, d2)
	}
	return as, bs, nil
}

// timed runs f and returns how long it took.
func timed(f func() error) (time.Duration, error) {
	start := time.Now()
	err := f()
	return time.Since(start), err
}
