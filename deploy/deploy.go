// Package deploy holds bam's deployment files — Prometheus alert rules and
// Grafana dashboards now; the Dockerfile, Compose file and Helm chart
// later — and the tests that check them against the code.
package deploy
