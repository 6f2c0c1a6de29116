package config

// validateGatewayTransport checks the gateway's TLS, compression and body
// size keys: certificate files come in pairs, sizes parse.
func validateGatewayTransport(g Gateway, bad func(key, value, expected string)) {
	if (g.TLSCert == "") != (g.TLSKey == "") {
		bad("gateway.tls_key", g.TLSKey, "set together with gateway.tls_cert (both or neither)")
	}
	if (g.UpstreamCert == "") != (g.UpstreamKey == "") {
		bad("gateway.upstream_key", g.UpstreamKey, "set together with gateway.upstream_cert (both or neither)")
	}
	if _, err := ParseSize(g.MaxBody); err != nil {
		bad("gateway.max_body", g.MaxBody, "bytes or a size such as 10MiB (0: unlimited)")
	}
}
