package main

import (
	"os"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/local"
	"github.com/tarnhq/tarn/pipeline"
	rt "github.com/tarnhq/tarn/runtime"
	"github.com/tarnhq/tarn/table"
	"github.com/tarnhq/tarn/users"
)

// sandboxFlags are the flags of `tarn serve` that say how user code is
// confined and where its packages come from.
type sandboxFlags struct {
	weak         bool
	uid          int
	processes    int
	disk         string
	indexURL     string
	extraIndexes []string
	findLinks    string
	sourceBuilds bool
	buildMemory  string
	internet     string
	privateNet   bool
	memory       string
	maxMemory    string
}

func (s *sandboxFlags) register(f *pflag.FlagSet) {
	f.BoolVar(&s.weak, "allow-weak-isolation", false, "run user code even where no verified bubblewrap sandbox is available (unsafe unless every user trusts every other)")
	f.IntVar(&s.uid, "sandbox-uid", rt.DefaultSandboxUID, "when the server runs as root: the uid (and gid) user code runs as")
	f.IntVar(&s.processes, "step-processes", 4096, "most processes and threads one step may run")
	f.StringVar(&s.memory, "step-memory", "4GiB", "memory of a step whose model sets none (@tarn.resources(memory=...)); shared memory counts")
	f.StringVar(&s.maxMemory, "step-memory-max", "", "most memory a model may ask for (default: this machine's memory)")
	f.StringVar(&s.disk, "step-disk", "50GiB", "most bytes one step may write: its output, result and /tmp files together")
	f.StringVar(&s.indexURL, "index-url", "", "the package index environments install from (default: PyPI, or $TARN_INDEX_URL)")
	f.StringSliceVar(&s.extraIndexes, "extra-index", nil, "another index a project may choose in its tarn_project.yml, as NAME=URL (repeatable)")
	f.StringVar(&s.findLinks, "find-links", "", "a folder of wheels environments may install from (default: $TARN_FIND_LINKS)")
	f.BoolVar(&s.sourceBuilds, "allow-source-builds", false, "let environment builds compile packages from source (sdists): their build code runs in the build sandbox")
	f.StringVar(&s.buildMemory, "build-memory", "4GiB", "most memory one environment build may use")
	f.StringVar(&s.internet, "internet-access", "none", "whose models may use internet_access=True: none, admins, all, or user names (comma-separated); never loopback, this server or link-local addresses")
	f.BoolVar(&s.privateNet, "internet-private", false, "let models with internet access reach private network addresses (10/8, 172.16/12, 192.168/16, fc00::/7)")
}

// config is the part of a server's local.Config these flags set.
func (s *sandboxFlags) config() (local.Config, error) {
	disk, err := parseSize("--step-disk", s.disk)
	if err != nil {
		return local.Config{}, err
	}
	buildMem, err := parseSize("--build-memory", s.buildMemory)
	if err != nil {
		return local.Config{}, err
	}
	memory, err := parseSize("--step-memory", s.memory)
	if err != nil {
		return local.Config{}, err
	}
	maxMemory := totalMemory()
	if s.maxMemory != "" {
		if maxMemory, err = parseSize("--step-memory-max", s.maxMemory); err != nil {
			return local.Config{}, err
		}
	}
	if maxMemory > 0 && memory > maxMemory {
		return local.Config{}, tarn.Errorf(tarn.EINVALID, "--step-memory %s is more than --step-memory-max %s", s.memory, table.FormatBytes(maxMemory))
	}
	if s.uid <= 0 {
		return local.Config{}, tarn.Errorf(tarn.EINVALID, "--sandbox-uid %d: user code must not run as root; use an unprivileged uid such as %d", s.uid, rt.DefaultSandboxUID)
	}
	indexes := map[string]string{}
	for _, kv := range s.extraIndexes {
		name, url, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(name) == "" || !strings.Contains(url, "://") {
			return local.Config{}, tarn.Errorf(tarn.EINVALID, "--extra-index %s: use NAME=URL, e.g. internal=https://pypi.example.com/simple", tarn.Quote(kv))
		}
		indexes[strings.TrimSpace(name)] = strings.TrimSpace(url)
	}
	pkgs := local.PackagePolicy{IndexURL: s.indexURL, FindLinks: s.findLinks, Indexes: indexes, Operator: true, AllowSourceBuilds: s.sourceBuilds}
	if pkgs.IndexURL == "" {
		pkgs.IndexURL = os.Getenv("TARN_INDEX_URL")
	}
	if pkgs.FindLinks == "" {
		pkgs.FindLinks = os.Getenv("TARN_FIND_LINKS")
	}
	internet := local.InternetPolicy{Egress: true, PrivateOK: s.privateNet}
	switch v := strings.TrimSpace(s.internet); v {
	case "none", "":
	case "all":
		internet.Users = []string{"*"}
	case "admins":
		internet.Users = []string{"admins"}
	default:
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				if err := users.ValidName(name); err != nil {
					return local.Config{}, tarn.Errorf(tarn.EINVALID, "--internet-access: %v (use none, admins, all, or user names separated by commas)", err)
				}
				internet.Users = append(internet.Users, name)
			}
		}
	}
	return local.Config{
		Internet:        internet,
		Sandbox:         rt.SandboxConfig{UID: s.uid, GID: s.uid, Shared: true},
		StrongIsolation: !s.weak,
		StepLimits:      rt.Limits{Memory: memory, Processes: s.processes, Disk: disk},
		MaxStepMemory:   maxMemory,
		BuildLimits:     rt.Limits{Memory: buildMem, Processes: s.processes, Disk: disk},
		Packages:        pkgs,
	}, nil
}

// totalMemory is the machine's memory in bytes (0 when unknown).
func totalMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// parseSize reads a size such as 50GiB, 512MiB, 1.5GB or 1000000 (bytes).
func parseSize(flag, v string) (int64, error) {
	n, err := pipeline.ParseBytes(v)
	if err != nil {
		return 0, tarn.Errorf(tarn.EINVALID, "%s: %v", flag, err)
	}
	return n, nil
}
