package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/bamhq/bam/internal/config"
	"github.com/bamhq/bam/internal/platform"
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
			// Reloads (config file changes, SIGHUP) read every layer again.
			p.Reconfigure = func() (config.Config, error) { return loadConfig(cmd) }
			if p.ConfigFile, _ = cmd.Flags().GetString("config"); p.ConfigFile == "" {
				if _, err := os.Stat(config.DefaultFile); err == nil {
					p.ConfigFile = config.DefaultFile
				}
			}
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go func() {
				for range hup {
					_ = p.Reload(cmd.Context()) // each module logs its outcome
				}
			}()
			platform.ApplyMemoryLimit(p.Config, p.Log)
			platform.ApplyProcs(p.Config, p.Log)
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
