// Command bam is the whole backend in one binary: `bam serve` runs every
// service in one process on embedded defaults, or any subset of them
// (--services=auth) against shared infrastructure.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bam:", err)
		os.Exit(1)
	}
}
