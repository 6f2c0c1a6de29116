package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/bamhq/bam/internal/auth"
)

// newAuthCmds returns the auth service's chores: `bam admin create` and
// `bam auth rotate-keys`. Both work on the configured database directly,
// whether or not bam is running.
func newAuthCmds() []*cobra.Command {
	admin := &cobra.Command{Use: "admin", Short: "Manage administrators"}
	var email, password string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an administrator, or reset their password (idempotent)",
		Long: "Creates the user with the admin role (making the role, with the admin permission, if needed).\n" +
			"If the user exists, sets the password, re-enables the account and makes sure it has the role.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAuth(cmd, func(ctx context.Context, a *auth.Offline, out io.Writer) error {
				created, err := a.EnsureAdmin(ctx, email, password)
				if err != nil {
					return err
				}
				verb := "updated"
				if created {
					verb = "created"
				}
				_, err = fmt.Fprintf(out, "administrator %s %s\n", email, verb)
				return err
			})
		},
	}
	create.Flags().StringVar(&email, "email", "", "the administrator's email address (required)")
	create.Flags().StringVar(&password, "password", "", "their password (required)")
	_ = create.MarkFlagRequired("email")
	_ = create.MarkFlagRequired("password")
	admin.AddCommand(create)

	authCmd := &cobra.Command{Use: "auth", Short: "Auth service chores"}
	authCmd.AddCommand(&cobra.Command{
		Use:   "rotate-keys",
		Short: "Make a new token signing key current now (the previous one verifies until its tokens expire)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAuth(cmd, func(ctx context.Context, a *auth.Offline, out io.Writer) error {
				kid, err := a.RotateKeys(ctx)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(out, "signing key rotated: new kid %s\n", kid)
				return err
			})
		},
	})
	return []*cobra.Command{admin, authCmd}
}

// withAuth opens the auth service's store as configured and runs fn on it.
func withAuth(cmd *cobra.Command, fn func(context.Context, *auth.Offline, io.Writer) error) error {
	return withOffline(cmd, auth.OpenOffline, func(ctx context.Context, a *auth.Offline) error {
		return fn(ctx, a, cmd.OutOrStdout())
	})
}
