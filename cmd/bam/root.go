package main

import (
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/bamhq/bam/internal/auth"
	"github.com/bamhq/bam/internal/config"
	"github.com/bamhq/bam/internal/content"
	"github.com/bamhq/bam/internal/platform"
	"github.com/bamhq/bam/internal/telemetry"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "bam",
		Short:         "bam — Backend as Microservices",
		Long:          "bam is a backend for web and mobile apps: auth, content, files and analytics behind one gateway.\nOne binary runs them all in one process (bam serve) or any subset (bam serve --services=auth).",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().String("config", "", "config file (default ./"+config.DefaultFile+" when present)")
	config.AddFlags(root.PersistentFlags())
	root.AddCommand(newServeCmd(), newVersionCmd(), newConfigCmd(), newMigrateCmd())
	root.AddCommand(newAuthCmds()...) // bam admin create, bam auth rotate-keys
	root.AddCommand(newContentCmd())  // bam content export|import
	root.AddCommand(newBenchCmd())
	return root
}

// loadConfig reads the effective configuration for cmd: defaults, file,
// environment and the command line.
func loadConfig(cmd *cobra.Command) (config.Config, error) {
	path, _ := cmd.Flags().GetString("config")
	return config.Load(config.Sources{File: path, Flags: cmd.Flags()})
}

// newPlatform loads the configuration and builds the process around it,
// logging to w.
func newPlatform(cmd *cobra.Command, w io.Writer) (*platform.Platform, error) {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return nil, err
	}
	log, err := telemetry.NewLogger(w, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		return nil, err
	}
	slog.SetDefault(log)
	return platform.New(cfg, log, version(), services(cfg)...)
}

// services lists every service this binary can run.
func services(cfg config.Config) []platform.Spec {
	return []platform.Spec{auth.Spec(cfg), content.Spec(cfg)}
}
