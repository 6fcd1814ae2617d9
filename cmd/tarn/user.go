package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/tarnhq/tarn"
)

func (a *app) userCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Add, list and remove the users of a server (each gets a bearer token)",
		Long: `Users call a tarn server with a bearer token. ` + "`tarn user add`" + ` works on the
lakehouse home directly (to create the first admin) or, through a server, for
an admin. The token is printed once; only its SHA-256 hash is stored.`,
		Example: "  tarn user add alice --admin --home /data/lake\n  tarn user add bob\n  tarn user ls\n  tarn user token bob\n  tarn user rm bob",
	}
	var admin bool
	var validFor time.Duration
	add := &cobra.Command{
		Use: "add NAME", Short: "Create a user and print its token (shown only once)",
		Example: "  tarn user add alice --admin\n  tarn user add bob --valid-for 720h\n  tarn user add carol -o json", Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			if validFor < 0 {
				return &usageError{"--valid-for must be positive, e.g. 720h"}
			}
			u, token, err := a.svc.Users.AddUser(ctx, tarn.NewUser{Name: args[0], Admin: admin, ValidFor: validFor})
			if err != nil {
				return err
			}
			return a.emit(map[string]any{"user": u, "token": token}, func(w io.Writer) {
				fmt.Fprintf(w, "%s\n", token)
				a.progress("created user %s (admin: %v); the token above is shown only once: tarn config set token TOKEN", u.Name, u.Admin)
			})
		},
	}
	add.Flags().BoolVar(&admin, "admin", false, "the user may write anywhere and manage users")
	add.Flags().DurationVar(&validFor, "valid-for", 0, "the token expires after this long (e.g. 720h; default: never)")
	ls := &cobra.Command{
		Use: "ls", Aliases: []string{"list"}, Short: "List users", Example: "  tarn user ls -o json", Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			users, err := a.svc.Users.ListUsers(ctx)
			if err != nil {
				return err
			}
			return a.emit(users, func(w io.Writer) {
				t := newTable(w, "USER", "ADMIN", "CREATED", "EXPIRES")
				for _, u := range users {
					expires := "never"
					if !u.Expires.IsZero() {
						expires = u.Expires.Local().Format("2006-01-02 15:04")
					}
					t.row(u.Name, u.Admin, u.Created.Local().Format("2006-01-02 15:04"), expires)
				}
				t.flush()
			})
		},
	}
	rm := &cobra.Command{
		Use: "rm NAME", Aliases: []string{"remove"}, Short: "Remove a user: its token stops working at once",
		Example: "  tarn user rm bob", Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			if err := a.svc.Users.RemoveUser(ctx, args[0]); err != nil {
				return err
			}
			return a.emit(map[string]string{"deleted": args[0]}, func(w io.Writer) { a.progress("removed user %s", args[0]) })
		},
	}
	token := &cobra.Command{
		Use: "token NAME", Short: "Give a user a new token (printed once); the old one stops working",
		Example: "  tarn user token bob", Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			token, err := a.svc.Users.ResetToken(ctx, args[0])
			if err != nil {
				return err
			}
			return a.emit(map[string]string{"user": args[0], "token": token}, func(w io.Writer) {
				fmt.Fprintf(w, "%s\n", token)
				a.progress("new token for %s; the old one no longer works, the token above is shown only once", args[0])
			})
		},
	}
	cmd.AddCommand(add, ls, rm, token)
	return cmd
}
