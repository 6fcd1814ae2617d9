package readyfile

import (
	"path/filepath"
	"testing"
	"time"
)

func TestWriteWait(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ready.json")
	if _, err := Wait(p, 50*time.Millisecond, nil); err == nil {
		t.Fatal("Wait without a file succeeded")
	}
	if _, err := Wait(p, time.Minute, func() bool { return true }); err == nil {
		t.Fatal("Wait on an exited server succeeded")
	}
	go func() { time.Sleep(30 * time.Millisecond); Write(p, "127.0.0.1:4242", "/h") }()
	r, err := Wait(p, 5*time.Second, nil)
	if err != nil || r.URL != "http://127.0.0.1:4242" || r.Addr != "127.0.0.1:4242" || r.Home != "/h" || r.PID == 0 {
		t.Fatalf("ready %+v, %v", r, err)
	}
}
