// Package httpx is the HTTP kit every bam service uses: errors as RFC 9457
// problem details, strict JSON decoding, list paging parameters and cursors,
// and the standard middleware chain (request id, recovery, metrics, access
// log, tracing) that Stack applies.
//
// It knows nothing of any service; services decode with DecodeJSON, answer
// with WriteJSON or WriteError, and serve their ServeMux through Stack.
package httpx
