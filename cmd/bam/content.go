package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/bamhq/bam/internal/content"
)

// newContentCmd returns `bam content export|import`: NDJSON in and out of
// a collection, streaming, on the configured database directly (whether
// or not bam is running).
func newContentCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "content", Short: "Content service chores: export and import collections"}
	var out string
	export := &cobra.Command{
		Use:   "export COLLECTION",
		Short: "Write every record of a collection as NDJSON (to stdout, or -o FILE)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withContent(cmd, func(ctx context.Context, o *content.Offline) error {
				w, closeW, err := createOutput(out, cmd.OutOrStdout())
				if err != nil {
					return err
				}
				p := newProgress(cmd.ErrOrStderr(), "exported", args[0])
				n, err := o.Export(ctx, args[0], w, p.tick)
				if cerr := closeW(); err == nil {
					err = cerr
				}
				p.done(n, err)
				return err
			})
		},
	}
	export.Flags().StringVarP(&out, "output", "o", "", "file to write (default: stdout)")
	imp := &cobra.Command{
		Use:   "import COLLECTION [FILE|-]",
		Short: "Insert NDJSON records into a collection (from FILE, or stdin), 500 per transaction",
		Long: "Each line is a record as export writes it. Records keep their id (a UUID), created, updated,\n" +
			"version and owner fields when present, so an export imports back as it was; fields are validated\n" +
			"as the API does. No events are published. On a bad line the import stops, naming the line;\n" +
			"the batches before it stay imported.",
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withContent(cmd, func(ctx context.Context, o *content.Offline) error {
				r := cmd.InOrStdin()
				if len(args) == 2 && args[1] != "-" {
					f, err := os.Open(args[1])
					if err != nil {
						return err
					}
					defer f.Close()
					r = f
				}
				p := newProgress(cmd.ErrOrStderr(), "imported", args[0])
				n, err := o.Import(ctx, args[0], r, p.tick)
				p.done(n, err)
				return err
			})
		},
	}
	cmd.AddCommand(export, imp)
	return cmd
}

// withContent opens the content store as configured and runs fn on it.
func withContent(cmd *cobra.Command, fn func(context.Context, *content.Offline) error) error {
	return withOffline(cmd, content.OpenOffline, fn)
}

// createOutput opens path for writing, or returns stdout for "".
func createOutput(path string, stdout io.Writer) (io.Writer, func() error, error) {
	if path == "" || path == "-" {
		return stdout, func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}

// progress prints a count and rate to w at most once a second while work
// goes on, and a summary at the end.
type progress struct {
	w          io.Writer
	verb, coll string
	start      time.Time
	last       time.Time
}

func newProgress(w io.Writer, verb, coll string) *progress {
	now := time.Now()
	return &progress{w: w, verb: verb, coll: coll, start: now, last: now}
}

func (p *progress) tick(n int64) {
	now := time.Now()
	if now.Sub(p.last) < time.Second {
		return
	}
	p.last = now
	fmt.Fprintf(p.w, "%s: %s %d records (%s)\n", p.coll, p.verb, n, p.rate(n, now))
}

func (p *progress) done(n int64, err error) {
	now := time.Now()
	state := "done"
	if err != nil {
		state = "stopped"
	}
	fmt.Fprintf(p.w, "%s: %s, %s %d records in %s (%s)\n", p.coll, state, p.verb, n,
		now.Sub(p.start).Round(time.Millisecond), p.rate(n, now))
}

func (p *progress) rate(n int64, now time.Time) string {
	secs := now.Sub(p.start).Seconds()
	if secs <= 0 {
		return "- records/s"
	}
	return fmt.Sprintf("%.0f records/s", float64(n)/secs)
}
