package config_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/bamhq/bam/internal/config"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bam.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func flags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	config.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

// TestPrecedence sets one key in each layer and checks that each layer
// overrides exactly the ones below it.
func TestPrecedence(t *testing.T) {
	file := writeFile(t, `
log:
  level: warn        # file beats default
  format: json       # file only
data_dir: /from/file # env beats it
http:
  addr: ":7001"      # flag beats env and file
`)
	environ := []string{
		"BAM_DATA_DIR=/from/env",
		"BAM_HTTP_ADDR=:7002",
		"BAM_SHUTDOWN_TIMEOUT=3s",       // env only
		"BAM_TEST_POSTGRES_URL=ignored", // unknown BAM_ variables are not config
	}
	fs := flags(t, "--http-addr=:7003", "--services=auth,content")

	c, err := config.Load(config.Sources{File: file, Environ: environ, Flags: fs})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		key       string
		got, want any
	}{
		{"ops.addr (default)", c.Ops.Addr, ":9090"},
		{"log.level (file)", c.Log.Level, "warn"},
		{"log.format (file)", c.Log.Format, "json"},
		{"data_dir (env over file)", c.DataDir, "/from/env"},
		{"shutdown_timeout (env)", c.ShutdownTimeout, 3 * time.Second},
		{"http.addr (flag over env over file)", c.HTTP.Addr, ":7003"},
		{"services (flag list)", strings.Join(c.Services, "|"), "auth|content"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.key, ch.got, ch.want)
		}
	}
}

func TestDefaultsAreValid(t *testing.T) {
	c, err := config.Load(config.Sources{File: "", Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != ":8080" || c.DataDir != "./bam_data" || c.Services[0] != "all" {
		t.Errorf("unexpected defaults: %+v", c)
	}
}

// TestPublicURLHasOneForm: public_url is the token issuer, compared
// exactly by every verifier and by OpenID clients: a trailing slash is
// dropped where it is read.
func TestPublicURLHasOneForm(t *testing.T) {
	c, err := config.Load(config.Sources{Environ: []string{"BAM_PUBLIC_URL=https://api.example.com/"}, Flags: flags(t)})
	if err != nil || c.PublicURL != "https://api.example.com" {
		t.Fatalf("public_url = %q, %v; want https://api.example.com", c.PublicURL, err)
	}
}

func TestBadValues(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		environ []string
		args    []string
		want    []string // fragments of the error message
	}{
		{"bad duration from env", "", []string{"BAM_SHUTDOWN_TIMEOUT=soon"}, nil,
			[]string{`shutdown_timeout = "soon"`, "a duration such as 15s", "BAM_SHUTDOWN_TIMEOUT"}},
		{"bad level from flag", "", nil, []string{"--log-level=loud"},
			[]string{`log.level = "loud"`, "one of debug, info, warn, error"}},
		{"bad address", "ops:\n  addr: nine\n", nil, nil,
			[]string{`ops.addr = "nine"`, "host:port"}},
		{"bad ratio", "otel:\n  sample_ratio: 2\n", nil, nil,
			[]string{`otel.sample_ratio = "2"`, "from 0 to 1"}},
		{"bad float from env", "", []string{"BAM_OTEL_SAMPLE_RATIO=half"}, nil,
			[]string{`otel.sample_ratio = "half"`, "a number"}},
		{"wrong URL scheme, password masked", "", []string{"BAM_DATABASE_URL=mysql://u:hunter2@db/x"}, nil,
			[]string{"database.url", "postgres://", "*****"}},
		{"stream replicas without a cluster", "nats:\n  stream_replicas: 3\n", nil, nil,
			[]string{`nats.stream_replicas = "3"`, "external cluster"}},
		{"memory limit that is no size", "memory_limit: lots\n", nil, nil,
			[]string{`memory_limit = "lots"`, "at least 16MiB"}},
		{"memory limit too small to run", "", []string{"BAM_MEMORY_LIMIT=1MiB"}, nil,
			[]string{`memory_limit = "1MiB"`, "at least 16MiB"}},
		{"unknown key in file", "lgo:\n  level: info\n", nil, nil,
			[]string{`unknown key "lgo.level"`}},
		{"file that does not parse", "log: [\n", nil, nil,
			[]string{"bam.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := config.Sources{Environ: tt.environ, Flags: flags(t, tt.args...)}
			if src.Environ == nil {
				src.Environ = []string{}
			}
			if tt.file != "" {
				src.File = writeFile(t, tt.file)
			}
			_, err := config.Load(src)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks a secret: %q", err)
			}
		})
	}
}

func TestMissingExplicitFile(t *testing.T) {
	_, err := config.Load(config.Sources{File: filepath.Join(t.TempDir(), "nope.yaml"), Environ: []string{}})
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("err = %v, want one naming the missing file", err)
	}
}

func TestPrintMasksSecrets(t *testing.T) {
	c := config.Defaults()
	c.Database.URL = "postgres://bam:hunter2@db.internal:5432/bam?sslmode=disable&sslpassword=keypass"
	c.Redis.URL = "redis://:s3cret@cache:6379/0"
	// Several NATS servers, the second with its own password; token auth.
	c.NATS.URL = "nats://u:p1@a:4222,nats://u:natspw2@b:4222,nats://NATSTOKEN@c:4222"
	var out bytes.Buffer
	if err := config.Print(&out, c); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, secret := range []string{"hunter2", "s3cret", "keypass", "natspw2", "NATSTOKEN"} {
		if strings.Contains(s, secret) {
			t.Errorf("config print shows %q:\n%s", secret, s)
		}
	}
	for _, want := range []string{"db.internal:5432", "bam:*****@", "sslmode=disable", "addr: :8080"} {
		if !strings.Contains(s, want) {
			t.Errorf("config print lacks %q:\n%s", want, s)
		}
	}
	// What Print writes must load back as a config file.
	path := writeFile(t, s)
	if _, err := config.Load(config.Sources{File: path, Environ: []string{}}); err != nil {
		t.Errorf("printed config does not load back: %v", err)
	}
}
