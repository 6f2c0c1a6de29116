package content

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/bamhq/bam/internal/content/expr"
	"github.com/bamhq/bam/internal/content/records"
	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/platform"
	"github.com/bamhq/bam/internal/store"
)

// Import and export (bam content export|import) work on the configured
// database directly, whether or not the service runs: NDJSON, one record
// per line, streamed both ways.

// ImportBatch is how many records one import transaction inserts.
const ImportBatch = 500

// maxImportLine bounds one NDJSON line.
const maxImportLine = 16 << 20

// Offline is the content database opened for a command-line chore.
type Offline struct {
	Registry *schema.Registry
	Records  *records.Store
	db       *store.DB
}

// OpenOffline opens the content service's database (applying migrations)
// as p's configuration says, and loads the collections.
func OpenOffline(ctx context.Context, p *platform.Platform) (*Offline, error) {
	db, err := p.OpenStore(ctx, Name, Migrations...)
	if err != nil {
		return nil, err
	}
	o, err := NewOffline(ctx, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	return o, nil
}

// NewOffline loads the collections of an open content database.
func NewOffline(ctx context.Context, db *store.DB) (*Offline, error) {
	reg := schema.NewRegistry(db)
	if err := reg.Load(ctx); err != nil {
		return nil, err
	}
	if err := reg.PrepareSearch(ctx); err != nil {
		return nil, err
	}
	return &Offline{Registry: reg, Records: records.New(db, reg), db: db}, nil
}

// Close closes the database.
func (o *Offline) Close() error { return o.db.Close() }

func (o *Offline) collection(name string) (*schema.Collection, error) {
	c, ok := o.Registry.Get(name)
	if !ok {
		return nil, errNoCollection(name)
	}
	return c, nil
}

// Export writes every record of collection to w as NDJSON, in id order,
// streaming; progress (may be nil) is called with the count after each
// record. It returns the number written.
func (o *Offline) Export(ctx context.Context, collection string, w io.Writer, progress func(int64)) (int64, error) {
	c, err := o.collection(collection)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	var n int64
	err = o.Records.Scan(ctx, c, func(rec records.Record) error {
		if err := enc.Encode(rec); err != nil {
			return err
		}
		n++
		if progress != nil {
			progress(n)
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// LineError is an import failure on one line of the input (1-based).
type LineError struct {
	Line int64
	Err  error
}

func (e *LineError) Error() string {
	msg := e.Err.Error()
	if x := errs.As(e.Err); x != nil {
		msg = x.Message
		for _, f := range x.Fields {
			msg += fmt.Sprintf("; %s: %s", f.Field, f.Message)
		}
	}
	return fmt.Sprintf("line %d: %s", e.Line, msg)
}

func (e *LineError) Unwrap() error { return e.Err }

// Import reads NDJSON records from r into collection, ImportBatch per
// transaction, streaming. A record keeps its id when it has one (a UUID),
// and its created, updated and version; owner fields keep their value; so
// an export imports back as it was. Records are validated like the API's,
// but relation targets are not looked up (restore collections in any
// order) and no events are published: an import is a restore, not a
// stream of changes. Batches before a bad line stay imported; the error
// names the line. progress (may be nil) gets the count after each batch.
func (o *Offline) Import(ctx context.Context, collection string, r io.Reader, progress func(int64)) (int64, error) {
	c, err := o.collection(collection)
	if err != nil {
		return 0, err
	}
	ins := &importer{c: c, d: o.db.Dialect(), now: time.Now().UTC()}
	br := bufio.NewReaderSize(r, 256<<10)
	var (
		n, line int64
		batch   []importRow
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := o.db.InTx(ctx, func(tx *store.Tx) error {
			for _, row := range batch {
				if err := ins.insert(ctx, tx, row); err != nil {
					return &LineError{Line: row.line, Err: err}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		n += int64(len(batch))
		batch = batch[:0]
		if progress != nil {
			progress(n)
		}
		return nil
	}
	for {
		raw, rerr := readLine(br)
		if len(raw) > 0 || rerr == nil {
			line++
		}
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return n, &LineError{Line: line, Err: rerr}
		}
		if len(bytes.TrimSpace(raw)) > 0 {
			row, err := ins.parse(raw)
			if err != nil {
				return n, &LineError{Line: line, Err: err}
			}
			row.line = line
			batch = append(batch, row)
			if len(batch) >= ImportBatch {
				if err := flush(); err != nil {
					return n, err
				}
			}
		}
		if errors.Is(rerr, io.EOF) {
			return n, flush()
		}
	}
}

// readLine reads one line without its newline, refusing lines longer than
// maxImportLine.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > maxImportLine {
			return nil, fmt.Errorf("the line is longer than %d bytes", maxImportLine)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimRight(buf, "\r\n"), err
	}
}

// importRow is one parsed line: the record's values and its kept
// bookkeeping.
type importRow struct {
	line             int64
	id               string
	created, updated time.Time
	version          int64
	owners           map[string]any
	values           map[string]any
}

// importer turns lines into rows of one collection's table.
type importer struct {
	c   *schema.Collection
	d   store.Dialect
	now time.Time
}

func (im *importer) parse(raw []byte) (importRow, error) {
	var rec map[string]any
	if err := json.Unmarshal(raw, &rec); err != nil {
		return importRow{}, fmt.Errorf("not a JSON object: %w", err)
	}
	row := importRow{id: uuid.Must(uuid.NewV7()).String(), created: im.now, updated: im.now, version: 1,
		owners: map[string]any{}}
	if v, ok := rec["id"]; ok && v != nil {
		s, _ := v.(string)
		u, err := uuid.Parse(s)
		if err != nil {
			return row, fmt.Errorf("id %v is not a UUID", v)
		}
		row.id = u.String()
	}
	var err error
	if row.created, err = importTime(rec, "created", im.now); err != nil {
		return row, err
	}
	if row.updated, err = importTime(rec, "updated", row.created); err != nil {
		return row, err
	}
	if v, ok := rec["version"].(float64); ok {
		if v < 1 || v != math.Trunc(v) || v > math.MaxInt64/2 {
			return row, fmt.Errorf("version %v is not a positive whole number", v)
		}
		row.version = int64(v)
	}
	for _, k := range []string{"id", "created", "updated", "version", "expand"} {
		delete(rec, k)
	}
	for _, f := range im.c.Fields {
		if f.Type != schema.Owner {
			continue
		}
		if v, ok := rec[f.Name]; ok {
			if _, isStr := v.(string); v != nil && !isStr {
				return row, fmt.Errorf("owner field %s must be a user id", f.Name)
			}
			row.owners[f.Name] = v
			delete(rec, f.Name)
		}
	}
	row.values = rec
	return row, nil
}

// importTime reads a date of the record (expr.DateLayout or RFC 3339), def
// when absent.
func importTime(rec map[string]any, key string, def time.Time) (time.Time, error) {
	v, ok := rec[key]
	if !ok || v == nil {
		return def, nil
	}
	s, _ := v.(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return def, fmt.Errorf("%s %v is not a date such as 2026-01-02T15:04:05.000Z", key, v)
	}
	return t.UTC().Truncate(time.Millisecond), nil
}

// insert writes row in tx, validated by the collection's Encode.
func (im *importer) insert(ctx context.Context, tx *store.Tx, row importRow) error {
	cols, err := im.c.Encode(row.values, schema.Create, "", im.d)
	if err != nil {
		return err
	}
	for k, v := range row.owners {
		cols[k] = v
	}
	names := []string{"id", "created", "updated", "version"}
	args := []any{row.id, im.date(row.created), im.date(row.updated), row.version}
	for _, k := range slices.Sorted(maps.Keys(cols)) { // one statement text per column set
		names = append(names, k)
		args = append(args, cols[k])
	}
	marks := make([]string, len(names))
	for i := range names {
		marks[i] = fmt.Sprintf("$%d", i+1)
		names[i] = `"` + names[i] + `"`
	}
	q := fmt.Sprintf(`INSERT INTO "%s" (%s) VALUES (%s)`, schema.Table(im.c.Name),
		strings.Join(names, ", "), strings.Join(marks, ", "))
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		if store.IsUniqueViolation(err) {
			return fmt.Errorf("record %s clashes with an existing one (same id or unique field)", row.id)
		}
		return err
	}
	schema.IndexPending(tx, im.c)
	return nil
}

// date is how the dialect stores a date (see schema's column types).
func (im *importer) date(t time.Time) any {
	if im.d == store.Postgres {
		return t
	}
	return t.Format(expr.DateLayout)
}
