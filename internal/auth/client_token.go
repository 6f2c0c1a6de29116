package auth

import (
	"github.com/bamhq/bam/internal/authn"
	"github.com/bamhq/bam/internal/errs"
)

// errClientToken refuses a token issued to an OAuth client where bam's own
// (first-party) token is required: an app acting for a user may read what
// its scope grants, never manage the account, its keys or bam itself.
var errClientToken = errs.E(errs.Forbidden, "auth.client_token_forbidden",
	"a token issued to an OAuth client cannot be used here; sign in to bam directly")

// firstParty checks that p is not a user's token issued to an OAuth app
// (the code grant): such tokens carry the granted scope only. Service
// accounts (client_credentials) name their client too, and stay allowed.
func firstParty(p *authn.Principal) error {
	if p != nil && p.Kind == authn.KindUser && p.ClientID != "" {
		return errClientToken
	}
	return nil
}
