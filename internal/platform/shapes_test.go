package platform_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/bamhq/bam/internal/bus"
	"github.com/bamhq/bam/internal/bus/bustest"
	"github.com/bamhq/bam/internal/config"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/inbox"
	"github.com/bamhq/bam/internal/kernel"
	"github.com/bamhq/bam/internal/outbox"
	"github.com/bamhq/bam/internal/platform"
	"github.com/bamhq/bam/internal/store"
	"github.com/bamhq/bam/internal/store/storetest"
	"github.com/bamhq/bam/internal/testenv"
)

// Two toy services show how a service plugs into the platform and prove
// the same wiring works in both shapes: "notes" writes a note and announces
// it through its outbox; "tally" consumes the announcements and counts them.

func migrations(name, table string) store.MigrationSet {
	up := fmt.Sprintf("-- +goose Up\nCREATE TABLE %s (id TEXT PRIMARY KEY);\n-- +goose Down\nDROP TABLE %[1]s;\n", table)
	return storetest.Migrations(name, map[string]string{"00001_init.sql": up})
}

// notes is the producer.
type notes struct {
	name string
	db   *store.DB
	out  *outbox.Outbox
}

func (n *notes) Start(ctx context.Context) error { return n.out.Start(ctx) }
func (n *notes) Stop(ctx context.Context) error  { return errors.Join(n.out.Stop(ctx), n.db.Close()) }

// Handler serves POST /v1/notes/{id}: the notes API behind the gateway.
func (n *notes) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/notes/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := n.create(r.Context(), r.PathValue("id")); err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	return httpx.Stack(n.name, quiet(), mux)
}

func (n *notes) create(ctx context.Context, id string) error {
	ev, err := bus.NewEvent(n.name, "bam."+n.name+".note.created", id, map[string]string{"id": id})
	if err != nil {
		return err
	}
	return n.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO notes (id) VALUES ($1)`, id); err != nil {
			return err
		}
		return n.out.Enqueue(ctx, tx, ev)
	})
}

func notesSpec(name, addr string, ready chan<- *notes) platform.Spec {
	return platform.Spec{
		Name: name, Deps: []string{platform.ModuleBus},
		Routes: []string{"/v1/notes/"}, Addr: addr, Upstream: "http://" + addr,
		Migrations: []store.MigrationSet{migrations(name, "notes"), outbox.Migrations},
		New: func(ctx context.Context, p *platform.Platform) (kernel.Service, error) {
			s, _ := p.Spec(name)
			db, err := p.OpenStore(ctx, name, s.Migrations...)
			if err != nil {
				return nil, err
			}
			if err := p.Bus.EnsureStream(ctx, name); err != nil {
				return nil, err
			}
			n := &notes{name: name, db: db, out: outbox.New(db, p.Bus, outbox.Options{Logger: p.Log})}
			ready <- n
			return n, nil
		},
	}
}

// tally is the consumer: it records each note it hears of, once.
type tally struct {
	db *store.DB
	c  *inbox.Consumer
}

func (s *tally) Start(ctx context.Context) error { return s.c.Start(ctx) }
func (s *tally) Stop(ctx context.Context) error  { return errors.Join(s.c.Stop(ctx), s.db.Close()) }

func (s *tally) count(t *testing.T) int {
	var n int
	if err := s.db.SQL().QueryRowContext(t.Context(), `SELECT count(*) FROM seen`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func tallySpec(name, producer string, ready chan<- *tally) platform.Spec {
	return platform.Spec{
		Name: name, Deps: []string{platform.ModuleBus},
		Migrations: []store.MigrationSet{migrations(name, "seen"), inbox.Migrations},
		New: func(ctx context.Context, p *platform.Platform) (kernel.Service, error) {
			s, _ := p.Spec(name)
			db, err := p.OpenStore(ctx, name, s.Migrations...)
			if err != nil {
				return nil, err
			}
			c := &inbox.Consumer{Name: name, Service: producer, DB: db, Bus: p.Bus, Logger: p.Log,
				Handler: func(ctx context.Context, tx *store.Tx, ev bus.Event) error {
					_, err := tx.ExecContext(ctx, `INSERT INTO seen (id) VALUES ($1)`, ev.Subject())
					return err
				}}
			t := &tally{db: db, c: c}
			ready <- t
			return t, nil
		},
	}
}

// run starts a platform running services in the background until the test ends.
func run(t *testing.T, cfg config.Config, specs ...platform.Spec) {
	t.Helper()
	p, err := platform.New(cfg, quiet(), "test", specs...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("platform stopped with %v", err)
		}
	})
}

// exercise creates notes through the public gateway and waits for the
// tally to have counted each exactly once.
func exercise(t *testing.T, gatewayAddr string, s *tally) {
	const count = 25
	for i := range count {
		url := fmt.Sprintf("http://%s/v1/notes/note-%02d", gatewayAddr, i)
		var resp *http.Response
		var err error
		for range 250 { // the gateway, or the service behind it, may still be starting
			if resp, err = http.Post(url, "", nil); err == nil && resp.StatusCode != http.StatusServiceUnavailable {
				break
			}
			if err == nil {
				resp.Body.Close()
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST %s = %d", url, resp.StatusCode)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for s.count(t) < count && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := s.count(t); got != count {
		t.Fatalf("tally saw %d notes, want %d", got, count)
	}
}

// TestOneProcess runs both services in one process on embedded defaults.
func TestOneProcess(t *testing.T) {
	producer, consumer := bustest.ServiceName(), bustest.ServiceName()
	nc, tc := make(chan *notes, 1), make(chan *tally, 1)
	cfg := testConfig(t)
	cfg.HTTP.Addr = testenv.FreeAddr(t)
	run(t, cfg, notesSpec(producer, "", nc), tallySpec(consumer, producer, tc))
	<-nc
	exercise(t, cfg.HTTP.Addr, <-tc)
}

// TestSplit runs each service in its own platform against external NATS
// and PostgreSQL (a schema per service), as split deployments do.
func TestSplit(t *testing.T) {
	natsURL, pgURL := testenv.NATSURL(t), testenv.PostgresURL(t)
	producer, consumer := bustest.ServiceName(), bustest.ServiceName()
	t.Cleanup(func() {
		dropSchemas(t, pgURL, producer, consumer)
		js := bustest.Open(t, bustest.External).JetStream()
		_ = js.DeleteStream(context.Background(), bus.StreamName(producer))
	})
	nc, tc := make(chan *notes, 1), make(chan *tally, 1)
	notesAddr, gatewayAddr := pair(testenv.FreeAddrs(t, 2))

	// Three processes: notes on its own listener, tally, and a gateway
	// that reaches notes over HTTP.
	for _, svc := range []string{producer, consumer, platform.ModuleGateway} {
		cfg := testConfig(t)
		cfg.Services = []string{svc}
		cfg.HTTP.Addr = gatewayAddr
		cfg.NATS.URL, cfg.Database.URL = natsURL, pgURL
		run(t, cfg, notesSpec(producer, notesAddr, nc), tallySpec(consumer, producer, tc))
	}
	<-nc
	exercise(t, gatewayAddr, <-tc)
}

func dropSchemas(t *testing.T, url string, schemas ...string) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Error(err)
		return
	}
	defer db.Close()
	for _, s := range schemas {
		if _, err := db.Exec(`DROP SCHEMA IF EXISTS "` + s + `" CASCADE`); err != nil {
			t.Error(err)
		}
	}
}

func pair(a []string) (string, string) { return a[0], a[1] }
