package benchkit

import (
	"math"
	"slices"
	"time"
)

// Number is what the statistics take: float64 figures, and durations or
// byte counts (integers).
type Number interface {
	~int | ~int64 | ~float64
}

// Median returns the median of xs (the mean of the two middle values when
// there are an even number; integers round toward zero), 0 when xs is
// empty. xs is not changed.
func Median[T Number](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Percentile returns the nearest-rank p-th percentile of xs (p in [0, 1]):
// the ⌈p·n⌉-th smallest, so p99 of 1000 samples is the 990th. It returns 0
// when xs is empty; xs is not changed.
func Percentile[T Number](xs []T, p float64) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// Ms returns d in milliseconds, rounded to the microsecond.
func Ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }

// Met says whether a target is met, as the reports print it: "MET" or
// "NOT MET".
func Met(ok bool) string {
	if ok {
		return "MET"
	}
	return "NOT MET"
}
