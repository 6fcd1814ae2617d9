package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/tarnhq/tarn"
	"github.com/tarnhq/tarn/pipeline"
	"github.com/tarnhq/tarn/secret"
	"golang.org/x/term"
)

// maxSecret bounds a secret's value (it travels in the project file and
// to a worker on its standard input).
const maxSecret = 64 << 10

// projectFlags are -p/--project and --project-dir, as tarn run has them.
type projectFlags struct{ project, projectDir string }

func (p *projectFlags) add(f *pflag.FlagSet) {
	f.StringVarP(&p.project, "project", "p", ".", "project directory")
	f.StringVar(&p.projectDir, "project-dir", "", "project directory (the same as --project)")
}

func (p *projectFlags) dir() string {
	if p.projectDir != "" {
		return p.projectDir
	}
	return p.project
}

func (a *app) parameterCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "parameter",
		Aliases: []string{"param"},
		Short:   "List, declare and remove a project's run parameters (secrets too)",
		Long: `Edit the parameters: of a project's tarn_project.yml. Models read a parameter
as tarn.Parameter("NAME"), SQL models as $NAME; a run takes its default or
` + "`tarn run --param NAME=VALUE`" + `.

A parameter of type secret holds a value sealed for this lakehouse: ` + "`tarn\nparameter set NAME --type secret`" + ` reads it without echo (or from --value,
--file or a pipe), encrypts it with the lakehouse's public key and stores only
the ciphertext in the project file, which can then be committed. Only the
lakehouse (this home, or the server of --endpoint) can open it, and it does so
only for the steps that use the parameter; the value never shows in logs,
commits or job records (a model printing it shows ***).

Edits rewrite only the lines of the parameter they change: comments, blank
lines and the order of the file stay.`,
		Example: `  tarn parameter ls -p taxi
  tarn parameter set min_miles --type float --default 1.5 --description "shortest trip kept" -p taxi
  tarn parameter set api_token --type secret -p taxi          # prompts, input hidden
  tarn parameter rm min_miles -p taxi`,
	}
	cmd.AddCommand(a.parameterLsCommand(), a.parameterSetCommand(), a.parameterRmCommand())
	return cmd
}

func (a *app) parameterLsCommand() *cobra.Command {
	var pf projectFlags
	cmd := &cobra.Command{
		Use: "ls", Aliases: []string{"list"}, Short: "List a project's parameters (a secret shows only whether it is set)",
		Example: "  tarn parameter ls -p taxi\n  tarn parameter ls -o json", Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := pipeline.ListParameters(pf.dir())
			if err != nil {
				return err
			}
			return a.emit(list, func(w io.Writer) {
				if len(list) == 0 {
					fmt.Fprintf(w, "no parameters: declare one with `tarn parameter set NAME --type TYPE`\n")
					return
				}
				t := newTable(w, "NAME", "TYPE", "DEFAULT", "REQUIRED", "DESCRIPTION")
				for _, p := range list {
					t.row(p.Name, p.Type, paramDefault(p), yesNo(p.Required), p.Description)
				}
				t.flush()
			})
		},
	}
	pf.add(cmd.Flags())
	return cmd
}

// paramDefault is the DEFAULT column of tarn parameter ls.
func paramDefault(p pipeline.ParamInfo) string {
	switch {
	case p.Set != nil && *p.Set:
		return "(secret, set)"
	case p.Set != nil:
		return "(secret, not set)"
	case p.Default == nil:
		return "-"
	case p.Type == "string":
		return fmt.Sprintf("%q", p.Default)
	}
	return fmt.Sprint(p.Default)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (a *app) parameterSetCommand() *cobra.Command {
	var pf projectFlags
	var typ, def, description, value, file string
	var noDefault, required bool
	cmd := &cobra.Command{
		Use:   "set NAME",
		Short: "Declare a parameter or change its declaration; a secret's value is stored sealed",
		Long: `Declare parameter NAME in the project's tarn_project.yml, or change what is
given of an existing one (what is not given stays). Types: string (or str),
int, float, bool, secret.

For --type secret the value is read from --value, from --file, or else from
standard input: without echo at a terminal, or the whole of a pipe. One
trailing newline is dropped (files and echo end with one). The value is sealed
with the public key of the lakehouse this command works on (the home, or the
server of --endpoint) and stored as value: "tarn-secret:v1:..."; only that
lakehouse can open it. --value puts the secret in your shell history: prefer
the prompt or --file. A secret has no default, and is never taken from
` + "`tarn run --param`" + `; run this again to change it.`,
		Example: `  tarn parameter set min_miles --type float --default 1.5 -p taxi
  tarn parameter set zone --type string --description "the zone to report" --required
  tarn parameter set min_miles --default 2          # the type stays
  tarn parameter set api_token --type secret        # prompts, input hidden
  tarn parameter set db_password --type secret --file secrets/db.txt
  vault read -field=token secret/x | tarn parameter set api_token --type secret`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			f := cmd.Flags()
			ch := pipeline.ParamChange{Type: typ, NoDefault: noDefault}
			if f.Changed("default") {
				if noDefault {
					return &usageError{"--default and --no-default exclude each other"}
				}
				ch.Default = &def
			}
			if f.Changed("description") {
				ch.Description = &description
			}
			if f.Changed("required") {
				ch.Required = &required
			}
			if f.Changed("value") && f.Changed("file") {
				return &usageError{"--value and --file exclude each other: give one (or neither, to type the value)"}
			}
			sealing := typ == pipeline.TypeSecret || f.Changed("value") || f.Changed("file")
			if sealing {
				if ch.Default != nil {
					return &usageError{"a secret has no default: its value comes from --value, --file or standard input, and is stored sealed"}
				}
				if err := pipeline.CheckParamName(name); err != nil {
					return err
				}
				plain, err := a.secretValue(cmd, name, f.Changed("value"), value, file)
				if err != nil {
					return err
				}
				if err := a.open(cmd.Context()); err != nil {
					return err
				}
				pub, err := a.svc.Secrets.PublicKey(cmd.Context())
				if err != nil {
					return err
				}
				sealed, err := secret.Seal(pub, name, plain)
				if err != nil {
					return err
				}
				ch.Value = &sealed
			}
			info, err := pipeline.SetParameter(pf.dir(), name, ch)
			if err != nil {
				return err
			}
			return a.emit(info, func(w io.Writer) {
				what := info.Type
				if info.Set != nil {
					what = paramDefault(*info)
				} else if info.Default != nil {
					what += ", default " + paramDefault(*info)
				}
				fmt.Fprintf(w, "set parameter %s (%s) in %s\n", info.Name, strings.Trim(what, "()"), projectFileOf(pf.dir()))
			})
		},
	}
	fl := cmd.Flags()
	pf.add(fl)
	fl.StringVar(&typ, "type", "", "string (or str), int, float, bool or secret (default: the current type)")
	fl.StringVar(&def, "default", "", "the default value, of the parameter's type")
	fl.BoolVar(&noDefault, "no-default", false, "drop the default")
	fl.StringVar(&description, "description", "", `what the parameter is for ("" drops it)`)
	fl.BoolVar(&required, "required", false, "a run without a value fails before anything runs (--required=false undoes it)")
	fl.StringVar(&value, "value", "", "a secret's value (it lands in your shell history: prefer the prompt or --file)")
	fl.StringVar(&file, "file", "", "read a secret's value from this file")
	return cmd
}

// secretValue reads the clear value of secret name: --value, --file, a
// prompt without echo at a terminal, or the whole of piped input.
func (a *app) secretValue(cmd *cobra.Command, name string, given bool, value, file string) (string, error) {
	var data []byte
	switch {
	case given:
		data = []byte(value)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", tarn.Errorf(tarn.EINVALID, "read the value of secret %s: %v", name, err)
		}
		data = dropNewline(b)
	default:
		in := cmd.InOrStdin()
		if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			fmt.Fprintf(a.stderr, "value of secret %s (input hidden): ", name)
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(a.stderr)
			if err != nil {
				return "", tarn.Errorf(tarn.EINVALID, "read the value of secret %s: %v", name, err)
			}
			data = b
		} else {
			b, err := io.ReadAll(io.LimitReader(in, maxSecret+2))
			if err != nil {
				return "", tarn.Errorf(tarn.EINVALID, "read the value of secret %s from standard input: %v", name, err)
			}
			data = dropNewline(b)
		}
	}
	switch {
	case len(data) == 0:
		return "", tarn.Errorf(tarn.EINVALID, "the value of secret %s is empty: give it with --value, --file or on standard input", name)
	case len(data) > maxSecret:
		return "", tarn.Errorf(tarn.EINVALID, "the value of secret %s is over %d KiB: a secret parameter holds a token, a password or a key, not a file", name, maxSecret>>10)
	case !utf8.Valid(data):
		return "", tarn.Errorf(tarn.EINVALID, "the value of secret %s is not UTF-8 text: models receive a str (encode binary keys, e.g. as base64)", name)
	}
	return string(data), nil
}

// dropNewline drops one trailing newline (\n or \r\n).
func dropNewline(b []byte) []byte {
	if b, ok := bytes.CutSuffix(b, []byte("\n")); ok {
		return bytes.TrimSuffix(b, []byte("\r"))
	}
	return b
}

// projectFileOf names a project's file for messages.
func projectFileOf(dir string) string {
	if path, err := pipeline.ProjectFilePath(dir); err == nil {
		return path
	}
	return filepath.Join(dir, pipeline.ProjectFile)
}

func (a *app) parameterRmCommand() *cobra.Command {
	var pf projectFlags
	cmd := &cobra.Command{
		Use: "rm NAME", Aliases: []string{"remove"}, Short: "Remove a parameter's declaration (with the comment above it)",
		Example: "  tarn parameter rm min_miles -p taxi", Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := pipeline.RemoveParameter(pf.dir(), args[0]); err != nil {
				return err
			}
			return a.emit(map[string]any{"removed": args[0]}, func(w io.Writer) {
				fmt.Fprintf(w, "removed parameter %s from %s\n", args[0], projectFileOf(pf.dir()))
			})
		},
	}
	pf.add(cmd.Flags())
	return cmd
}
