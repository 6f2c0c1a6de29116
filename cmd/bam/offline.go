package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/bamhq/bam/internal/platform"
)

// withOffline opens a service's store as configured, with open (the
// service's OpenOffline), runs fn on it and closes it: the chores that
// work on the database directly, whether or not bam is running.
func withOffline[S io.Closer](cmd *cobra.Command, open func(context.Context, *platform.Platform) (S, error),
	fn func(context.Context, S) error) error {
	p, err := newPlatform(cmd, os.Stderr)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(p.Config.DataDir, 0o750); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	s, err := open(ctx, p)
	if err != nil {
		return err
	}
	defer s.Close()
	return fn(ctx, s)
}
