package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/bamhq/bam/internal/telemetry"
)

func newServeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the backend: every service, or those named by --services",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := newPlatform(cmd, os.Stderr)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(p.Config.DataDir, 0o750); err != nil {
				return fmt.Errorf("data directory: %w", err)
			}
			shutdown, err := telemetry.SetupTracing(cmd.Context(), telemetry.TraceOptions{
				ServiceName: "bam", Version: p.Version,
				Endpoint: p.Config.OTel.Endpoint, SampleRatio: p.Config.OTel.SampleRatio,
			})
			if err != nil {
				return err
			}
			defer shutdown(context.WithoutCancel(cmd.Context()))
			return p.Run(cmd.Context())
		},
	}
}
