package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestLoadConfig_Vectors: the CLI reads the profile file as the shared
// vectors say (the Python client is tested on the same file).
func TestLoadConfig_Vectors(t *testing.T) {
	b, err := os.ReadFile("../../testdata/profile/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Cases []struct {
			Name, Text string
			Settings   map[string]string
			Error      bool
		}
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	for _, c := range v.Cases {
		t.Run(c.Name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "config.yml")
			os.WriteFile(p, []byte(c.Text), 0o600)
			t.Setenv("TARN_CONFIG", p)
			got, _, err := loadConfig()
			if c.Error {
				if err == nil {
					t.Fatalf("%q is read as %v", c.Text, got)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.Settings) {
				t.Fatalf("%q: %v, %v; want %v", c.Text, got, err, c.Settings)
			}
		})
	}
}
