package errs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/bamhq/bam/internal/errs"
)

func TestKindAndCode(t *testing.T) {
	notFound := errs.E(errs.NotFound, "content.record_not_found", "record %q not found", "r1")
	tests := []struct {
		name     string
		err      error
		wantKind errs.Kind
		wantCode string
	}{
		{"nil", nil, "", ""},
		{"plain error", io.EOF, errs.Internal, ""},
		{"error", notFound, errs.NotFound, "content.record_not_found"},
		{"wrapped by fmt", fmt.Errorf("loading: %w", notFound), errs.NotFound, "content.record_not_found"},
		{"context canceled", context.Canceled, errs.Canceled, ""},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), errs.Timeout, ""},
		{"internal caused by cancel", errs.Wrap(context.Canceled, errs.Internal, "store.query_failed", "query failed"), errs.Canceled, "store.query_failed"},
		{"internal caused by io", errs.Wrap(io.ErrUnexpectedEOF, errs.Internal, "", "read"), errs.Internal, ""},
		{"explicit kind beats context cause", errs.Wrap(context.DeadlineExceeded, errs.Unavailable, "bus.down", "bus down"), errs.Unavailable, "bus.down"},
		{"empty kind and code defer to cause", &errs.Error{Message: "outer", Err: notFound}, errs.NotFound, "content.record_not_found"},
		{"outer code wins", errs.Wrap(notFound, errs.Conflict, "content.conflict", "x"), errs.Conflict, "content.conflict"},
		{"joined", errors.Join(io.EOF, notFound), errs.NotFound, "content.record_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errs.KindOf(tt.err); got != tt.wantKind {
				t.Errorf("KindOf = %q, want %q", got, tt.wantKind)
			}
			if got := errs.CodeOf(tt.err); got != tt.wantCode {
				t.Errorf("CodeOf = %q, want %q", got, tt.wantCode)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  *errs.Error
		want string
	}{
		{errs.E(errs.Invalid, "a.b", "bad"), "a.b: bad"},
		{errs.Wrap(io.EOF, errs.Internal, "a.c", "read failed"), "a.c: read failed: EOF"},
		{&errs.Error{Kind: errs.Forbidden}, "forbidden"},
		{errs.E(errs.Invalid, "", "100%% literal"), "100% literal"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestEWrapsWithW(t *testing.T) {
	e := errs.E(errs.Unavailable, "bus.publish_failed", "publish: %w", io.ErrClosedPipe)
	if !errors.Is(e, io.ErrClosedPipe) {
		t.Fatal("cause not reachable through errors.Is")
	}
	if e.Message != "publish: io: read/write on closed pipe" {
		t.Fatalf("Message = %q", e.Message)
	}
	two := errs.E(errs.Internal, "x", "%w and %w", io.EOF, io.ErrClosedPipe)
	if !errors.Is(two, io.EOF) || !errors.Is(two, io.ErrClosedPipe) {
		t.Fatal("both causes should be reachable")
	}
	if errs.E(errs.Invalid, "x", "no cause %d", 1).Err != nil {
		t.Fatal("no %w should give no cause")
	}
}

func TestWithFieldAndAs(t *testing.T) {
	err := error(errs.E(errs.Invalid, "content.validation_failed", "invalid record").
		WithField("title", "too_long", "at most 200 characters").
		WithField("tags.2", "required", "must not be empty"))
	e := errs.As(fmt.Errorf("create: %w", err))
	if e == nil || len(e.Fields) != 2 || e.Fields[1].Field != "tags.2" {
		t.Fatalf("As = %+v", e)
	}
	if errs.As(io.EOF) != nil {
		t.Fatal("As(io.EOF) should be nil")
	}
}
