package local

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/internal/atomicfile"
	"gopkg.in/yaml.v3"
)

// Home is a lakehouse home: the one place that knows where each part of a
// lakehouse lives under its directory. Everything else asks it.
type Home string

// The parts of a home.
func (h Home) Dir() string       { return string(h) }
func (h Home) Warehouse() string { return filepath.Join(string(h), "warehouse") }  // Iceberg data and metadata
func (h Home) CatalogDB() string { return filepath.Join(string(h), "catalog.db") } // the SQLite catalog
func (h Home) UsersFile() string { return filepath.Join(string(h), "users.json") } // users and token hashes
func (h Home) JobsDir() string   { return filepath.Join(string(h), "jobs") }       // job records and logs
func (h Home) Uploads() string   { return filepath.Join(string(h), "uploads") }    // a server's uploads while used
func (h Home) Exports() string   { return filepath.Join(string(h), "exports") }    // a server's query exports while sent
func (h Home) QueryTemp() string { return filepath.Join(string(h), "tmp", "duckdb") }
func (h Home) Envs() string      { return filepath.Join(string(h), "envs") }       // Python environments by key
func (h Home) SDK() string       { return filepath.Join(string(h), "sdk") }        // the extracted Python SDK
func (h Home) Cache() string     { return filepath.Join(string(h), "cache") }      // step and scan cache
func (h Home) Sandbox() string   { return filepath.Join(string(h), "sandbox") }    // generated sandbox files, egress sockets
func (h Home) SecretKey() string { return filepath.Join(string(h), "secret.key") } // the key pair of secret parameters (0600)
func (h Home) ConfigFile() string {
	return filepath.Join(string(h), "config.yml")
}

// ServerScratch are the folders a server empties when it starts: what a
// killed server left of its uploads, exports and query spills.
func (h Home) ServerScratch() []string { return []string{h.Uploads(), h.Exports(), h.QueryTemp()} }

// HomeConfig is HOME/config.yml: settings of the lakehouse itself, shared
// by every user of a server over the home.
type HomeConfig struct {
	Cache struct {
		MaxSize string `yaml:"max_size,omitempty"`
	} `yaml:"cache"`
}

// Config reads config.yml (empty when there is none).
func (h Home) Config() (*HomeConfig, error) {
	var c HomeConfig
	data, err := os.ReadFile(h.ConfigFile())
	if os.IsNotExist(err) {
		return &c, nil
	}
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "%s: %v", h.ConfigFile(), err)
	}
	return &c, nil
}

// SetConfig writes config.yml atomically.
func (h Home) SetConfig(c *HomeConfig) error {
	data, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	return atomicfile.Write(h.ConfigFile(), data, 0o644)
}

// ActiveBranch is the branch `tarn checkout` chose (HOME/HEAD), main by
// default.
func (h Home) ActiveBranch() string {
	b, err := os.ReadFile(filepath.Join(string(h), "HEAD"))
	if err != nil {
		return tarn.DefaultBranch
	}
	if name := strings.TrimSpace(string(b)); name != "" {
		return name
	}
	return tarn.DefaultBranch
}

// SetActiveBranch records the branch `tarn checkout` chose.
func (h Home) SetActiveBranch(name string) error {
	return atomicfile.Write(filepath.Join(string(h), "HEAD"), []byte(name+"\n"), 0o644)
}
