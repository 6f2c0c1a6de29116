// Package config is bam's configuration: one struct, its defaults, and the
// layers that override them — defaults < config file (bam.yaml) < BAM_*
// environment variables < command-line flags.
//
// The struct is the single source of truth: environment variable names,
// validation messages, masking of secrets in `bam config print` and the
// table of keys in the README are all derived from its tags:
//
//	koanf:"key"     the key in bam.yaml (nested structs nest keys with ".")
//	help:"…"        one line for the docs table
//	flag:"name"     also settable as --name on the command line
//	secret:"true"   masked whenever the configuration is shown
package config

import "time"

// Config is the effective configuration of one bam process.
type Config struct {
	Services        []string      `koanf:"services" flag:"services" help:"Services to run in this process: all, or a comma-separated list"`
	DataDir         string        `koanf:"data_dir" flag:"data-dir" help:"Directory for embedded data: SQLite files, the NATS store, local files"`
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout" help:"How long a stopping process waits for in-flight requests to finish"`
	Log             Log           `koanf:"log"`
	HTTP            HTTP          `koanf:"http"`
	Ops             Ops           `koanf:"ops"`
	Database        Database      `koanf:"database"`
	NATS            NATS          `koanf:"nats"`
	Redis           Redis         `koanf:"redis"`
	OTel            OTel          `koanf:"otel"`
}

// Log configures structured logging.
type Log struct {
	Level  string `koanf:"level" flag:"log-level" help:"Minimum log level: debug, info, warn or error"`
	Format string `koanf:"format" flag:"log-format" help:"Log line format: text or json"`
}

// HTTP configures the public listener.
type HTTP struct {
	Addr string `koanf:"addr" flag:"http-addr" help:"Public API listener (the gateway), host:port"`
}

// Ops configures the per-process operations listener.
type Ops struct {
	Addr string `koanf:"addr" flag:"ops-addr" help:"Operations listener for /metrics, /healthz and /readyz, host:port"`
}

// Database selects where services keep their data.
type Database struct {
	URL string `koanf:"url" flag:"database-url" secret:"url" help:"Empty: one SQLite file per service under data_dir. postgres://…: one schema per service on that server"`
}

// NATS selects the event bus.
type NATS struct {
	URL    string `koanf:"url" flag:"nats-url" secret:"url" help:"Empty: an embedded NATS JetStream server (store under data_dir). nats://…: an external cluster"`
	Listen string `koanf:"listen" help:"Embedded server only: expose it on this host:port (empty: in-process connections only)"`
}

// Redis is the optional shared cache (rate limits across gateway replicas).
type Redis struct {
	URL string `koanf:"url" flag:"redis-url" secret:"url" help:"Empty: no Redis, in-process state only. redis://…: shared state across replicas"`
}

// OTel configures tracing.
type OTel struct {
	Endpoint    string  `koanf:"endpoint" help:"OTLP/HTTP endpoint for traces, e.g. http://127.0.0.1:4318 (empty: traces are not exported)"`
	SampleRatio float64 `koanf:"sample_ratio" help:"Fraction of new traces to sample, 0 to 1 (a sampled parent is always followed)"`
}

// Defaults returns the configuration a fresh checkout runs with: every
// service in one process, all data under ./bam_data.
func Defaults() Config {
	return Config{
		Services:        []string{"all"},
		DataDir:         "./bam_data",
		ShutdownTimeout: 20 * time.Second,
		Log:             Log{Level: "info", Format: "text"},
		HTTP:            HTTP{Addr: ":8080"},
		Ops:             Ops{Addr: ":9090"},
		OTel:            OTel{SampleRatio: 1},
	}
}
