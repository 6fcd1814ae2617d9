//go:build integration

package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tarnhq/tarn/internal/pgtest"
	"github.com/tarnhq/tarn/secret"
)

// TestShared_SecretKey: the key pair of secret parameters lives in the
// shared database, so servers on homes of their own need no copy of a
// file. The first server's existing key file becomes the lakehouse's key
// (values sealed for it still open); a secret sealed through it opens in
// a run on a second server whose home has no key, and that home gets no
// key file of its own. A server whose home holds another key pair is
// refused at start, saying which file and what to do; a command that
// needs no key works from that home.
func TestShared_SecretKey(t *testing.T) {
	catalog := pgtest.URL(t)
	wh := s3Warehouse(t)
	root := t.TempDir()
	homeA, homeB := filepath.Join(root, "a", "home"), filepath.Join(root, "b", "home")
	fileKey, err := secret.LoadOrCreate(filepath.Join(homeA, "secret.key")) // a server that sealed values before
	if err != nil {
		t.Fatal(err)
	}
	a := startShared(t, homeA, catalog, "--warehouse", wh)
	b := startShared(t, homeB, catalog, "--warehouse", wh)
	for _, s := range []*server{a, b} {
		if want := "key pair of secret parameters " + fileKey.ID() + " in the catalog database"; !strings.Contains(s.log.String(), want) {
			t.Fatalf("the server's start-up does not say %q:\n%s", want, s.log.String())
		}
	}

	dir := project(t, secretFiles())
	value := newSecret(t)
	if r := a.cli("parameter", "set", "api_token", "--type", "secret", "--value", value, "-p", dir); r.code != 0 {
		t.Fatalf("parameter set through a: %+v", r)
	}
	if file, _ := os.ReadFile(filepath.Join(dir, "tarn_project.yml")); !strings.Contains(string(file), "tarn-secret:v1:") {
		t.Fatalf("the project file holds no sealed value:\n%s", file)
	}
	checkSecretRun(t, b.cli("run", "-p", dir), value)
	if _, err := os.Stat(filepath.Join(homeB, "secret.key")); err == nil {
		t.Fatal("the second server made a key file of its own")
	}
	// A value sealed for a's file before the servers shared a database
	// opens on b too.
	old, err := secret.Seal(fileKey.PublicKey(), "api_token", value)
	if err != nil {
		t.Fatal(err)
	}
	sealedDir := project(t, secretFiles())
	if r := b.cli("parameter", "set", "api_token", "--type", "secret", "--value", "placeholder", "-p", sealedDir); r.code != 0 {
		t.Fatalf("parameter set through b: %+v", r)
	}
	replaceSealed(t, filepath.Join(sealedDir, "tarn_project.yml"), old)
	checkSecretRun(t, b.cli("run", "-p", sealedDir, "--no-cache"), value)

	// A home holding another key pair.
	homeC := filepath.Join(root, "c", "home")
	other, err := secret.LoadOrCreate(filepath.Join(homeC, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	// A command that needs no key works from such a home (an admin's
	// own, say).
	if r := tarnRun(t, homeC, "--catalog", catalog, "--warehouse", wh, "user", "add", "carol"); r.code != 0 {
		t.Fatalf("user add from a home with another key pair: %+v", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, env(t, "TARN_BIN"), "serve", "--insecure-local", "--addr", "127.0.0.1:0", "--catalog", catalog, "--warehouse", wh)
	cmd.Env = append(os.Environ(), "TARN_HOME="+homeC)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	msg := stderr.String()
	if code := exitCode(err); code != 2 || !strings.Contains(msg, filepath.Join(homeC, "secret.key")) || !strings.Contains(msg, other.ID()) ||
		!strings.Contains(msg, fileKey.ID()) || !strings.Contains(msg, "Move the file out of the home") {
		t.Fatalf("a server whose home has another key pair: exit %d (%v)\n%s", code, err, msg)
	}
}

// replaceSealed puts sealed in place of the one sealed value in a project
// file.
func replaceSealed(t *testing.T, path, sealed string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "tarn-secret:v1:")
	if start < 0 {
		t.Fatalf("no sealed value in %s:\n%s", path, text)
	}
	end := start + strings.IndexAny(text[start:], "\"'\n")
	if err := os.WriteFile(path, []byte(text[:start]+sealed+text[end:]), 0o644); err != nil {
		t.Fatal(err)
	}
}

// exitCode is the exit status of a finished command (-1 when it did not
// exit by itself).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
