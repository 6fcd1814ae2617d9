package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/tarnhq/tarn"
	"gopkg.in/yaml.v3"
)

// configKeys are the settings of the profile file.
var configKeys = map[string]string{
	"endpoint": "URL of a tarn server (tarn serve); empty: the embedded lakehouse",
	"token":    "bearer token for the server (from `tarn user add`)",
}

// configPath is $TARN_CONFIG, else $XDG_CONFIG_HOME/tarn/config.yml (or
// the OS's user config folder).
func configPath() (string, error) {
	if p := os.Getenv("TARN_CONFIG"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", tarn.Errorf(tarn.EINVALID, "cannot find a config folder: set TARN_CONFIG to a file path")
	}
	return filepath.Join(dir, "tarn", "config.yml"), nil
}

func loadConfig() (map[string]string, string, error) {
	p, err := configPath()
	if err != nil {
		return nil, "", err
	}
	cfg := map[string]string{}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, p, nil
	}
	if err != nil {
		return nil, p, tarn.Errorf(tarn.EINVALID, "read config %s: %v", p, err)
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		return nil, p, tarn.Errorf(tarn.EINVALID, "config %s is not valid YAML (key: value lines): %v", p, err)
	}
	return cfg, p, nil
}

func saveConfig(p string, cfg map[string]string) error {
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return tarn.Errorf(tarn.EINVALID, "create config folder: %v", err)
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return tarn.Errorf(tarn.EINVALID, "write config %s: %v", p, err)
	}
	return os.Rename(tmp, p)
}

// remote returns the endpoint and token in force: flags, then the
// environment (TARN_ENDPOINT, TARN_TOKEN), then the profile file.
func (a *app) remote() (endpoint, token string, err error) {
	endpoint, token = a.endpoint, os.Getenv("TARN_TOKEN")
	if endpoint == "" {
		endpoint = os.Getenv("TARN_ENDPOINT")
	}
	if endpoint != "" && token != "" {
		return endpoint, token, nil
	}
	cfg, _, err := loadConfig()
	if err != nil {
		return "", "", err
	}
	if endpoint == "" {
		endpoint = cfg["endpoint"]
	}
	if token == "" {
		token = cfg["token"]
	}
	return endpoint, token, nil
}

func checkConfigKey(key string) error {
	if _, ok := configKeys[key]; !ok {
		keys := make([]string, 0, len(configKeys))
		for k := range configKeys {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return tarn.Errorf(tarn.EINVALID, "unknown setting %q: use %s%s", key, strings.Join(keys, " or "), tarn.Suggest(key, keys))
	}
	return nil
}

func (a *app) configCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show and change the profile: which server to talk to, with which token",
		Long: `The profile file ($TARN_CONFIG, default $XDG_CONFIG_HOME/tarn/config.yml)
holds the endpoint of a tarn server and a token. With an endpoint, every
command runs against that server; without one, against the embedded
lakehouse in $TARN_HOME. --endpoint, TARN_ENDPOINT and TARN_TOKEN override it.`,
		Example: "  tarn config set endpoint http://lake.example.com:8181\n  tarn config set token tarn_...\n  tarn config ls",
	}
	set := &cobra.Command{
		Use: "set KEY VALUE", Short: "Set endpoint or token (an empty VALUE removes it)",
		Example: "  tarn config set endpoint http://127.0.0.1:8181\n  tarn config set token \"\"",
		Args:    exactArgs("KEY", "VALUE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkConfigKey(args[0]); err != nil {
				return err
			}
			cfg, p, err := loadConfig()
			if err != nil {
				return err
			}
			if args[1] == "" {
				delete(cfg, args[0])
			} else {
				cfg[args[0]] = args[1]
			}
			if err := saveConfig(p, cfg); err != nil {
				return err
			}
			return a.emit(map[string]any{"file": p, "key": args[0], "set": args[1] != ""}, func(w io.Writer) {
				fmt.Fprintf(w, "%s %s in %s\n", map[bool]string{true: "set", false: "removed"}[args[1] != ""], args[0], p)
			})
		},
	}
	get := &cobra.Command{
		Use: "get KEY", Short: "Print one setting", Example: "  tarn config get endpoint", Args: exactArgs("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkConfigKey(args[0]); err != nil {
				return err
			}
			cfg, _, err := loadConfig()
			if err != nil {
				return err
			}
			return a.emit(map[string]string{args[0]: cfg[args[0]]}, func(w io.Writer) { fmt.Fprintln(w, cfg[args[0]]) })
		},
	}
	ls := &cobra.Command{
		Use: "ls", Aliases: []string{"list"}, Short: "List the settings (the token masked)", Example: "  tarn config ls -o json", Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, p, err := loadConfig()
			if err != nil {
				return err
			}
			shown := map[string]string{}
			for k, v := range cfg {
				if k == "token" && len(v) > 9 {
					v = v[:9] + "…"
				}
				shown[k] = v
			}
			return a.emit(map[string]any{"file": p, "settings": shown}, func(w io.Writer) {
				fmt.Fprintf(w, "# %s\n", p)
				keys := make([]string, 0, len(shown))
				for k := range shown {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					fmt.Fprintf(w, "%s: %s\n", k, shown[k])
				}
			})
		},
	}
	cmd.AddCommand(set, get, ls)
	return cmd
}
