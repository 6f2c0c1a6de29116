package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bamhq/bam/internal/loadtest"
)

func newBenchCmd() *cobra.Command {
	var (
		o       loadtest.Options
		max     bool
		headers []string
		body    string
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "bench URL",
		Short: "Load-test a URL you run yourself and report req/s and latency percentiles",
		Long: "bench sends HTTP load to URL — at --rate requests per second, or with --max as fast as\n" +
			"--connections workers can go (the saturation rate) — and reports req/s, the success ratio and\n" +
			"p50/p90/p99/p99.9/max latency. It hits only the URL given: use it on 127.0.0.1 or your own hosts.",
		Example: "  bam bench --max http://127.0.0.1:8080/v1/orders/\n" +
			"  bam bench --rate 5000 --duration 10s --header 'Authorization: Bearer …' http://127.0.0.1:8080/v1/orders/",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.URL = args[0]
			if max == cmd.Flags().Changed("rate") {
				return errors.New("bench: give one of --rate R or --max")
			}
			if max {
				o.Rate = 0
			} else if o.Rate <= 0 {
				return errors.New("bench: --rate must be above 0 (or use --max)")
			}
			o.Header = http.Header{}
			for _, h := range headers {
				k, v, ok := strings.Cut(h, ":")
				if !ok || strings.TrimSpace(k) == "" {
					return fmt.Errorf("bench: header %q: want 'Name: value'", h)
				}
				o.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
			}
			if path, ok := strings.CutPrefix(body, "@"); ok {
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				o.Body = b
			} else if body != "" {
				o.Body = []byte(body)
			}
			o.Progress = cmd.ErrOrStderr()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			rep, err := loadtest.Run(ctx, o)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			return rep.WriteTable(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.Float64Var(&o.Rate, "rate", 0, "requests per second to send")
	f.BoolVar(&max, "max", false, "send as fast as --connections workers can (find the saturation rate)")
	f.DurationVar(&o.Duration, "duration", 10*time.Second, "how long to send load")
	f.IntVar(&o.Connections, "connections", 50, "kept-alive connections: the most requests in flight")
	f.DurationVar(&o.Timeout, "timeout", 30*time.Second, "per-request timeout")
	f.StringArrayVarP(&headers, "header", "H", nil, "request header 'Name: value' (repeatable)")
	f.StringVarP(&o.Method, "method", "X", http.MethodGet, "request method")
	f.StringVar(&body, "body", "", "request body, or @file to read it from a file")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON instead of a table")
	return cmd
}
