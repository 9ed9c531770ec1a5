package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// profileCommand manages named connections in the user's config directory.
func (a *app) profileCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profile",
		Short: "save, list and remove named connections (URL, user, namespace)",
		Long: `Profiles are named connections kept in profiles.json in the user's config
directory ($XDG_CONFIG_HOME/kalam, or ~/.config/kalam), mode 0600. They hold a
URL, a user and a namespace, never a password or a token. Use one with
--profile NAME or $KALAM_PROFILE; a profile named "default" is used when
neither is given. Flags and environment variables override its fields.`,
		Args: noArgs,
	}
	cmd.AddCommand(a.profileSet(), a.profileList(), a.profileRm())
	return cmd
}

func (a *app) profileSet() *cobra.Command {
	return &cobra.Command{
		Use:     "set NAME",
		Short:   "create or change a profile from --url, --user and --namespace",
		Example: "  kalam profile set dev --url http://127.0.0.1:2900 --user alice --namespace shop",
		Args:    exactArgs(1, "profile name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := loadProfiles()
			if err != nil {
				return err
			}
			p := m[args[0]]
			f := &a.conn
			if f.url != "" {
				if err := checkURL(f.url); err != nil {
					return err
				}
				p.URL = f.url
			}
			if f.user != "" {
				p.User = f.user
			}
			if f.namespace != "" {
				p.Namespace = f.namespace
			}
			if p == (profile{}) {
				return usageErr("give at least one of --url, --user, --namespace")
			}
			m[args[0]] = p
			path, err := saveProfiles(m)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.io.out, "Saved profile %q in %s.\n", args[0], path)
			return nil
		},
	}
}

func (a *app) profileList() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "list the profiles",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := loadProfiles()
			if err != nil {
				return err
			}
			if len(m) == 0 {
				fmt.Fprintln(a.io.out, "No profiles yet: create one with \"kalam profile set NAME --url URL --user NAME\".")
				return nil
			}
			tw := tabwriter.NewWriter(a.io.out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tURL\tUSER\tNAMESPACE")
			for _, n := range sortedNames(m) {
				p := m[n]
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n, p.URL, p.User, p.Namespace)
			}
			return tw.Flush()
		},
	}
}

func (a *app) profileRm() *cobra.Command {
	return &cobra.Command{
		Use:   "rm NAME",
		Short: "remove a profile",
		Args:  exactArgs(1, "profile name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := loadProfiles()
			if err != nil {
				return err
			}
			if _, ok := m[args[0]]; !ok {
				return usageErr("no profile %q (\"kalam profile list\" shows them)", args[0])
			}
			delete(m, args[0])
			if _, err := saveProfiles(m); err != nil {
				return err
			}
			fmt.Fprintf(a.io.out, "Removed profile %q.\n", args[0])
			return nil
		},
	}
}

// exactArgs wants n positional arguments, as a usage error otherwise.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < n:
			return usageErr("missing the %s", what)
		case len(args) > n:
			return usageErr("unexpected argument %q", args[n])
		}
		return nil
	}
}
