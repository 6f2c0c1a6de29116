package content

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/bamhq/bam/internal/content/schema"
	"github.com/bamhq/bam/internal/errs"
	"github.com/bamhq/bam/internal/httpx"
	"github.com/bamhq/bam/internal/store"
)

// BatchRequest is the body of POST /v1/collections/batch.
type BatchRequest struct {
	Requests []BatchOp `json:"requests"`
}

// BatchOp is one write of a batch: POST (create; no id), PATCH, PUT or
// DELETE (of id).
type BatchOp struct {
	Method     string         `json:"method"`
	Collection string         `json:"collection"`
	ID         string         `json:"id,omitempty"`
	Body       map[string]any `json:"body,omitempty"`
	IfMatch    string         `json:"ifMatch,omitempty"`
}

// BatchResult is the outcome of one operation: its status and, except for
// deletes, the record.
type BatchResult struct {
	Status int `json:"status"`
	Body   any `json:"body,omitempty"`
}

// BatchResponse answers a batch that committed.
type BatchResponse struct {
	Responses []BatchResult `json:"responses"`
}

// BatchError is a batch that failed: nothing was written, and Index is the
// operation that failed.
type BatchError struct {
	Index int
	Err   error
}

func (e *BatchError) Error() string { return e.Err.Error() }
func (e *BatchError) Unwrap() error { return e.Err }

// batch runs ops for who in one transaction: all are applied, with their
// events, or none. Each operation is held to its collection's rules. A
// failure is a *BatchError naming the operation.
func (s *Service) batch(ctx context.Context, who caller, ops []BatchOp) ([]BatchResult, error) {
	if len(ops) == 0 || len(ops) > MaxBatch {
		return nil, errs.E(errs.Invalid, CodeBatchTooLarge, "A batch holds 1 to %d requests, not %d.", MaxBatch, len(ops)).
			WithField("requests", "out_of_range", "1 to 100 requests")
	}
	for i, op := range ops {
		if err := op.check(); err != nil {
			return nil, &BatchError{Index: i, Err: err}
		}
	}
	results, err := s.runBatch(ctx, who, ops)
	if be, ok := errors.AsType[*BatchError](err); ok && isSchemaSurprise(be.Err) {
		s.Log.InfoContext(ctx, "content: schema changed under a batch; reloading", "err", be.Err)
		if lerr := s.Registry.Load(ctx); lerr == nil {
			results, err = s.runBatch(ctx, who, ops)
		}
	}
	return results, err
}

func (s *Service) runBatch(ctx context.Context, who caller, ops []BatchOp) ([]BatchResult, error) {
	var results []BatchResult
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		results = make([]BatchResult, 0, len(ops))
		for i, op := range ops {
			res, err := s.batchOp(ctx, tx, who, op)
			if err != nil {
				return &BatchError{Index: i, Err: err}
			}
			results = append(results, res)
		}
		return nil
	})
	return results, err
}

// check validates an operation's shape before anything runs.
func (op BatchOp) check() error {
	switch op.Method {
	case http.MethodPost:
		if op.ID != "" {
			return invalid(CodeInvalidRequest, "id", "a create (POST) takes no id: the server assigns it")
		}
	case http.MethodPatch, http.MethodPut, http.MethodDelete:
		if op.ID == "" {
			return invalid(CodeInvalidRequest, "id", "%s needs the id of a record", op.Method)
		}
	default:
		return invalid(CodeInvalidRequest, "method", "method is POST, PATCH, PUT or DELETE, not %q", op.Method)
	}
	if op.Collection == "" {
		return invalid(CodeInvalidRequest, "collection", "collection is required")
	}
	if op.Method != http.MethodDelete && op.Body == nil {
		return invalid(CodeInvalidRequest, "body", "%s needs a body", op.Method)
	}
	return nil
}

func (s *Service) batchOp(ctx context.Context, tx *store.Tx, who caller, op BatchOp) (BatchResult, error) {
	c, err := s.collection(ctx, op.Collection)
	if err != nil {
		return BatchResult{}, err
	}
	cond := parseIfMatch(op.IfMatch)
	switch op.Method {
	case http.MethodPost:
		rec, err := s.create(ctx, tx, who, c, op.Body)
		return BatchResult{Status: http.StatusCreated, Body: rec}, err
	case http.MethodPatch, http.MethodPut:
		mode := schema.Patch
		if op.Method == http.MethodPut {
			mode = schema.Replace
		}
		rec, err := s.update(ctx, tx, who, c, op.ID, op.Body, mode, cond)
		if rec == nil {
			return BatchResult{Status: http.StatusNoContent}, err // not the caller's to view
		}
		return BatchResult{Status: http.StatusOK, Body: rec}, err
	default:
		return BatchResult{Status: http.StatusNoContent}, s.delete(ctx, tx, who, c, op.ID, cond)
	}
}

func (s *Service) handleBatch(w http.ResponseWriter, r *http.Request, who caller) {
	var req BatchRequest
	if err := httpx.DecodeJSONWith(w, r, &req, httpx.DecodeOptions{MaxBytes: s.opts.MaxBatchBytes}); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	results, err := s.batch(r.Context(), who, req.Requests)
	if be, ok := errors.AsType[*BatchError](err); ok {
		s.writeIndexedError(w, r, be.Index, be.Err)
		return
	}
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	_ = httpx.WriteJSON(w, http.StatusOK, BatchResponse{Responses: results})
}

// writeIndexedError answers err as a problem with the index of the batch
// operation that failed.
func (s *Service) writeIndexedError(w http.ResponseWriter, r *http.Request, index int, err error) {
	p := httpx.ProblemOf(r, err)
	if p.Status == http.StatusInternalServerError {
		s.Log.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path,
			"index", index, "error", err)
	}
	w.Header().Set("Content-Type", httpx.ContentTypeProblem)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(struct {
		httpx.Problem
		Index int `json:"index"`
	}{p, index})
}
