package table

import "testing"

func TestParquetParts(t *testing.T) {
	for _, tc := range []struct {
		size int64
		cpus int
		want int
	}{
		{0, 8, 1},
		{10 << 20, 8, 1},                // small: one file
		{100 << 20, 2, 1},               // under two minimum parts
		{128 << 20, 2, 2},               // one per core
		{1 << 30, 2, 3},                 // 384 MB parts
		{1 << 30, 8, 8},                 // one per core, 128 MB each
		{100 << 30, 8, maxParquetParts}, // bounded
		{300 << 20, 1, 1},               // one core, under 384 MB
	} {
		if got := parquetParts(tc.size, tc.cpus); got != tc.want {
			t.Errorf("parquetParts(%d MB, %d cpus) = %d, want %d", tc.size>>20, tc.cpus, got, tc.want)
		}
	}
}
