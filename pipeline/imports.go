package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// importAliases maps import names to the package names that provide them,
// where the two differ.
var importAliases = map[string][]string{
	"sklearn": {"scikit-learn"}, "PIL": {"pillow"}, "yaml": {"pyyaml"}, "cv2": {"opencv-python", "opencv-python-headless"},
	"bs4": {"beautifulsoup4"}, "dateutil": {"python-dateutil"}, "attr": {"attrs"}, "google": {"protobuf", "google-cloud-storage"},
	"jwt": {"pyjwt"}, "dotenv": {"python-dotenv"}, "Crypto": {"pycryptodome"}, "skimage": {"scikit-image"},
	"duckdb": {"duckdb"}, "polars": {"polars"}, "pandas": {"pandas"}, "numpy": {"numpy", "pandas", "polars", "pyarrow"},
	"pytz": {"pytz", "pandas"}, "tzdata": {"tzdata", "pandas"}, "six": {"six", "python-dateutil"},
}

// alwaysAvailable are imports every worker environment provides.
var alwaysAvailable = map[string]bool{"tarn": true, "pyarrow": true, "numpy": true}

// checkImports reports imports a model's environment cannot satisfy: not
// the standard library, not a module of the project, not an installed
// package. It runs before anything is built or run.
func (p *Project) checkImports() ProjectErrors {
	stdlib := p.stdlib
	local := localModules(p.Dir)
	var errs ProjectErrors
	for _, m := range append(append([]*Model{}, p.Models...), p.Expectations...) {
		if m.Kind == "sql" {
			continue
		}
		pkgs := map[string]bool{}
		for name := range p.EnvSpec(m).Packages {
			pkgs[normalize(name)] = true
		}
		for _, imp := range m.Imports {
			if imp.Origin == "stdlib" || imp.Origin == "tarn" || imp.Origin == "project" {
				continue
			}
			top, _, _ := strings.Cut(imp.Module, ".")
			if top == "" || stdlib[top] || local[top] || alwaysAvailable[top] || pkgs[normalize(top)] {
				continue
			}
			ok := false
			for _, alt := range importAliases[top] {
				if pkgs[normalize(alt)] {
					ok = true
				}
			}
			if ok {
				continue
			}
			errs = append(errs, ProjectError{File: m.File, Line: imp.Line, Msg: fmt.Sprintf(
				"%s imports %s, which its environment does not install: add it to @tarn.python(pip={...}) or to defaults.packages in %s",
				m.Name, top, ProjectFile)})
		}
	}
	return dedupe(errs)
}

func dedupe(errs ProjectErrors) ProjectErrors {
	seen := map[string]bool{}
	var out ProjectErrors
	for _, e := range errs {
		k := e.String()
		if !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}

func normalize(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// localModules lists the importable names a project provides itself.
func localModules(dir string) map[string]bool {
	m := map[string]bool{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir() && !skipDir(name):
			m[name] = true
		case strings.HasSuffix(name, ".py"):
			m[strings.TrimSuffix(name, ".py")] = true
		}
	}
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(d.Name(), ".py") {
			m[strings.TrimSuffix(d.Name(), ".py")] = true // sibling imports in subfolders
		}
		return nil
	})
	return m
}
