package authn

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// The package's metrics, on the default registerer so that the ops server's
// /metrics serves them. Counters are resolved once: Verify's cached path
// must not pay for a label lookup.
var (
	verificationsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "bam_authn_verifications_total",
		Help: "Access token verifications, by result (ok, cached, expired, invalid, revoked, unavailable).",
	}, []string{"result"})

	verifyOK          = verificationsTotal.WithLabelValues("ok")
	verifyCached      = verificationsTotal.WithLabelValues("cached")
	verifyExpired     = verificationsTotal.WithLabelValues("expired")
	verifyInvalid     = verificationsTotal.WithLabelValues("invalid")
	verifyRevoked     = verificationsTotal.WithLabelValues("revoked")
	verifyUnavailable = verificationsTotal.WithLabelValues("unavailable")

	jwksRefreshesTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "bam_authn_jwks_refreshes_total",
		Help: "JWKS fetches, by result (ok, error).",
	}, []string{"result"})

	jwksRefreshOK    = jwksRefreshesTotal.WithLabelValues("ok")
	jwksRefreshError = jwksRefreshesTotal.WithLabelValues("error")

	apiKeyVerificationsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "bam_authn_apikey_verifications_total",
		Help: "API key verifications, by result (ok, cached, invalid, unavailable, throttled).",
	}, []string{"result"})

	revocationsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "bam_authn_revocations_total",
		Help: "Revocations applied to the deny-list, by scope (session, subject).",
	}, []string{"scope"})
)
