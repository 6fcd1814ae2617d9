package main

import (
	"fmt"
	"os/exec"
	"runtime"

	"github.com/spf13/cobra"
)

// uiCommand is tarn serve --insecure-local on a loopback address, opening
// the web UI in a browser.
func (a *app) uiCommand() *cobra.Command {
	var addr string
	var noOpen bool
	serve := a.serveCommand()
	cmd := &cobra.Command{
		Use:   "ui",
		Short: "Open the web UI over the lakehouse home (a loopback server, no tokens)",
		Long: `Start ` + "`tarn serve --insecure-local`" + ` on a loopback address over the
lakehouse home (--home or $TARN_HOME) and open its web UI in the browser:
branches, commit history, tables and their data, diffs, SQL, runs and their
DAGs (docs/UI.md). The URL is printed too; without a browser, open it by hand.
Ctrl-C stops the server. For a team, run ` + "`tarn serve`" + ` with users instead: the
same UI is at its address, with token sign-in.`,
		Example: `  tarn ui
  tarn ui --addr 127.0.0.1:8282 --no-open`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := serve.Flags()
			if err := f.Set("addr", addr); err != nil {
				return err
			}
			if err := f.Set("insecure-local", "true"); err != nil {
				return err
			}
			a.onListen = func(url string) {
				fmt.Fprintf(a.stderr, "tarn ui: %s\n", url)
				if noOpen {
					return
				}
				if err := openBrowser(url); err != nil {
					fmt.Fprintf(a.stderr, "tarn ui: could not open a browser (%v): open %s\n", err, url)
				}
			}
			serve.SetContext(cmd.Context())
			return serve.RunE(serve, nil)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:0", "loopback address to listen on (port 0 picks a free one)")
	cmd.Flags().BoolVar(&noOpen, "no-open", false, "print the URL without opening a browser")
	return cmd
}

// openBrowser opens url in the desktop's browser.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}
