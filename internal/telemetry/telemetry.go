// Package telemetry sets up what every bam process reports about itself:
// structured logs (log/slog) that carry trace_id and request_id, and
// OpenTelemetry tracing with W3C propagation and an optional OTLP exporter.
package telemetry
