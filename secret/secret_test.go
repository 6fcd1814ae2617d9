package secret_test

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/secret"
)

func newKeys(t *testing.T) (*secret.Keys, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret.key")
	k, err := secret.LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	return k, path
}

func seal(t *testing.T, k *secret.Keys, name, value string) string {
	t.Helper()
	s, err := secret.Seal(k.PublicKey(), name, value)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSeal_RoundTrip(t *testing.T) {
	k, _ := newKeys(t)
	for _, value := range []string{"hunter2", "", "line one\nline two\n", "naïve ✓", strings.Repeat("x", 65536), "with\x00nul"} {
		sealed := seal(t, k, "api_token", value)
		if !strings.HasPrefix(sealed, tarn.SecretPrefix) {
			t.Fatalf("sealed value %q lacks the prefix", sealed)
		}
		if value != "" && strings.Contains(sealed, value) {
			t.Fatalf("sealed value shows the clear value")
		}
		got, err := k.Open("api_token", sealed)
		if err != nil {
			t.Fatal(err)
		}
		if got != value {
			t.Fatalf("opened %q, want %q", got, value)
		}
	}
	// Sealing is randomized: the same value seals differently each time.
	if a, b := seal(t, k, "p", "v"), seal(t, k, "p", "v"); a == b {
		t.Fatal("two seals of one value are equal")
	}
}

func TestOpen_OtherLakehouse(t *testing.T) {
	mine, _ := newKeys(t)
	other, _ := newKeys(t)
	_, err := mine.Open("db_password", seal(t, other, "db_password", "s3cret"))
	if !errors.Is(err, secret.ErrOtherLakehouse) || tarn.ErrorCode(err) != tarn.EINVALID {
		t.Fatalf("err = %v, want ErrOtherLakehouse", err)
	}
	for _, want := range []string{"secret db_password was encrypted for another lakehouse", "set it again with `tarn parameter set db_password --type secret`"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestOpen_Corrupt(t *testing.T) {
	k, _ := newKeys(t)
	good := seal(t, k, "token", "s3cret")
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(good, tarn.SecretPrefix))
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return tarn.SecretPrefix + base64.StdEncoding.EncodeToString(b)
	}
	for _, tc := range []struct{ name, sealed, says string }{
		{"NoPrefix", "s3cret", "does not start with tarn-secret:v1:"},
		{"OldVersion", "tarn-secret:v0:" + strings.TrimPrefix(good, tarn.SecretPrefix), "does not start with"},
		{"NotBase64", tarn.SecretPrefix + "!!!", "not base64"},
		{"Truncated", tarn.SecretPrefix + base64.StdEncoding.EncodeToString(raw[:20]), "too short"},
		{"FlippedCiphertext", flip(len(raw) - 1), "altered"},
		{"FlippedEphemeralKey", flip(9), "altered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := k.Open("token", tc.sealed)
			if !errors.Is(err, secret.ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), "secret token is corrupt") || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), "tarn parameter set token") {
				t.Fatalf("error %q does not say what and how to fix it", err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("error %q shows the value", err)
			}
		})
	}
	// A flipped key id reads as another lakehouse's value.
	if _, err := k.Open("token", flip(0)); !errors.Is(err, secret.ErrOtherLakehouse) {
		t.Fatalf("flipped id: %v", err)
	}
}

func TestOpen_OtherName(t *testing.T) {
	k, _ := newKeys(t)
	_, err := k.Open("greeting", seal(t, k, "api_token", "s3cret"))
	if !errors.Is(err, secret.ErrOtherName) || !strings.Contains(err.Error(), `"api_token"`) {
		t.Fatalf("err = %v, want ErrOtherName naming api_token", err)
	}
}

func TestSeal_BadKey(t *testing.T) {
	k, _ := newKeys(t)
	pub := k.PublicKey()
	bad := *pub
	bad.ID = "0000000000000000"
	if _, err := secret.Seal(&bad, "p", "v"); err == nil || !strings.Contains(err.Error(), "does not match its id") {
		t.Fatalf("a key with a wrong id: %v", err)
	}
	short := *pub
	short.Key = pub.Key[:31]
	if _, err := secret.Seal(&short, "p", "v"); err == nil {
		t.Fatal("a short key sealed")
	}
	if _, err := secret.Seal(pub, "", "v"); err == nil {
		t.Fatal("an empty name sealed")
	}
}

func TestKeys_MAC(t *testing.T) {
	a, _ := newKeys(t)
	b, _ := newKeys(t)
	if a.MAC("v") != a.MAC("v") {
		t.Fatal("MAC is not deterministic")
	}
	if a.MAC("v") == a.MAC("w") {
		t.Fatal("MAC of two values is equal")
	}
	if a.MAC("v") == b.MAC("v") {
		t.Fatal("MAC does not depend on the lakehouse's key")
	}
	if strings.Contains(a.MAC("hunter2"), "hunter2") || len(a.MAC("v")) != 64 {
		t.Fatalf("MAC %q", a.MAC("v"))
	}
}

func TestLoadOrCreate(t *testing.T) {
	k, path := newKeys(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %o, want 600", fi.Mode().Perm())
	}
	again, err := secret.LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	if again.PublicKey().ID != k.PublicKey().ID {
		t.Fatal("a second LoadOrCreate made another key")
	}
	if v, err := again.Open("p", seal(t, k, "p", "v")); err != nil || v != "v" {
		t.Fatalf("the reloaded key does not open: %q %v", v, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("files left beside the key: %v", entries)
	}
}

func TestLoadOrCreate_Concurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "home", "secret.key")
	ids := make([]string, 16)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := secret.LoadOrCreate(path)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = k.PublicKey().ID
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent creations gave different keys: %v", ids)
		}
	}
}

func TestLoad_Refuses(t *testing.T) {
	_, path := newKeys(t)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := secret.Load(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a readable key file: %v", err)
	}
	os.Chmod(path, 0o600)
	if err := os.WriteFile(path, []byte("tarn-lakehouse-key:v1:short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := secret.Load(path); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("a damaged key file: %v", err)
	}
	if _, err := secret.Load(filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a missing key file: %v", err)
	}
}
