package main

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/bamhq/bam/internal/platform"
)

func newMigrateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply or show the services' database migrations (serve applies them at start too)",
	}
	run := func(apply bool) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			p, err := newPlatform(cmd, os.Stderr)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(p.Config.DataDir, 0o750); err != nil {
				return fmt.Errorf("data directory: %w", err)
			}
			var reports []platform.MigrationReport
			if apply {
				reports, err = p.Migrate(cmd.Context(), p.Config.Services)
			} else {
				reports, err = p.MigrationStatus(cmd.Context(), p.Config.Services)
			}
			if werr := writeReports(cmd.OutOrStdout(), reports); err == nil {
				err = werr
			}
			return err
		}
	}
	cmd.AddCommand(&cobra.Command{Use: "up", Short: "Apply pending migrations", Args: cobra.NoArgs, RunE: run(true)},
		&cobra.Command{Use: "status", Short: "Show applied and pending migrations", Args: cobra.NoArgs, RunE: run(false)})
	return cmd
}

// writeReports prints one table row per migration.
func writeReports(w io.Writer, reports []platform.MigrationReport) error {
	if len(reports) == 0 {
		_, err := fmt.Fprintln(w, "no service with migrations selected")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tSET\tVERSION\tNAME\tSTATE\tAPPLIED AT")
	for _, r := range reports {
		for _, m := range r.Status {
			state, at := "pending", ""
			if m.Applied {
				state, at = "applied", m.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", r.Service, m.Set, m.Version, m.Name, state, at)
		}
	}
	return tw.Flush()
}
