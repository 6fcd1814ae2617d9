package local

import (
	"slices"
	"strings"

	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/pipeline"
	rt "github.com/tarnhq/tarn/runtime"
)

// PackagePolicy says where the Python packages of environments come from,
// and what a project may change about it.
//
// Embedded (one user's own code), a project's `index:` section applies,
// over IndexURL and FindLinks (set from TARN_INDEX_URL / TARN_FIND_LINKS).
// On a server (Operator set) the package sources are the operator's: a
// project may pick one of the allowed indexes (IndexURL or one of Indexes,
// by name or URL) and ask for offline installs, never a folder of its own
// upload; and builds install wheels only unless AllowSourceBuilds, since a
// package's build backend is its author's code.
type PackagePolicy struct {
	IndexURL  string
	FindLinks string
	// Indexes are the other indexes a project may choose on a server, by
	// name.
	Indexes map[string]string
	// Operator makes the sources the operator's (a server).
	Operator          bool
	AllowSourceBuilds bool
}

// Resolve returns the package sources of a project's environments.
func (p PackagePolicy) Resolve(decl pipeline.IndexDecl, user string) (rt.IndexConfig, error) {
	ix := rt.IndexConfig{URL: p.IndexURL, FindLinks: p.FindLinks, Offline: decl.Offline}
	if !p.Operator {
		if decl.URL != "" {
			ix.URL = decl.URL
		}
		if decl.FindLinks != "" {
			// Wheels a user brought: their environments are theirs alone.
			ix.FindLinks, ix.Owner = decl.FindLinks, user
		}
		return ix, nil
	}
	ix.NoBuild = !p.AllowSourceBuilds
	if decl.FindLinks != "" {
		return ix, tarn.Errorf(tarn.EFORBIDDEN, "this server sets where packages come from: a project may not name a wheel folder (index.find_links); ask the operator to add the wheels to the server's --find-links folder, or use an index it allows")
	}
	if decl.URL != "" {
		url, ok := p.Indexes[decl.URL]
		if !ok && (decl.URL == p.IndexURL || slices.Contains(mapValues(p.Indexes), decl.URL)) {
			url, ok = decl.URL, true
		}
		if !ok {
			return ix, tarn.Errorf(tarn.EFORBIDDEN, "this server sets where packages come from: index.url %s is not one it allows (%s); ask the operator to add it with --extra-index NAME=URL",
				tarn.Quote(decl.URL), p.allowed())
		}
		ix.URL = url
	}
	return ix, nil
}

func (p PackagePolicy) allowed() string {
	var names []string
	if p.IndexURL != "" {
		names = append(names, p.IndexURL+" (the default)")
	} else {
		names = append(names, "PyPI (the default)")
	}
	for _, name := range slices.Sorted(mapKeys(p.Indexes)) {
		names = append(names, name+" = "+p.Indexes[name])
	}
	return strings.Join(names, ", ")
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
