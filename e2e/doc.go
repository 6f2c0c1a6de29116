// Package e2e runs the real bam binary, built once per test run, as users
// and orchestrators do: started, probed over HTTP, signalled, restarted.
// Later issues add split-mode shapes here (several processes, replicas).
package e2e
