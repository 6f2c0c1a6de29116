// Package transport lets one bam service reach another through an
// http.RoundTripper, either in the same process (InProcess, which calls the
// service's handler directly) or over HTTP to its replicas (Replicas), so
// that a service client works the same in both shapes of the program and
// cannot tell which one it runs in.
package transport
