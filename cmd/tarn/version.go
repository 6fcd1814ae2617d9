package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"github.com/tarnhq/tarn/python"
)

// versionInfo is what `tarn version` reports.
type versionInfo struct {
	Version  string `json:"version"`            // the module version, or "devel"
	Revision string `json:"revision,omitempty"` // the VCS commit the binary was built from
	Modified bool   `json:"modified,omitempty"` // built from a tree with changes
	SDK      string `json:"sdk"`                // the content hash of the embedded Python SDK
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

func buildVersion() versionInfo {
	v := versionInfo{Version: "devel", SDK: python.Version(), Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	return v
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print tarn's version (and the commit it was built from)",
		Example: "  tarn version\n  tarn version -o json",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			v := buildVersion()
			return a.emit(v, func(w io.Writer) {
				rev := ""
				if v.Revision != "" {
					rev = " (" + v.Revision[:min(12, len(v.Revision))]
					if v.Modified {
						rev += ", modified"
					}
					rev += ")"
				}
				fmt.Fprintf(w, "tarn %s%s, SDK %s, %s %s\n", v.Version, rev, v.SDK, v.Go, v.Platform)
			})
		},
	}
}
