package store

import (
	"encoding/json"
	"strings"
)

// oauthData checks the payload of CREATE USER … WITH OAUTH '{json}' the
// way KalamDB's handler does (a JSON object with string fields "provider"
// and "subject") and returns the system.users.auth_data JSON: the issuer
// (the provider as given), the subject, and the provider type detected
// from the issuer.
func oauthData(p *plan) (string, *failure) {
	if !p.hasOAuth {
		return "", execFail("Invalid operation: OAuth user requires JSON payload with provider and subject", true)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(p.oauth), &m); err != nil {
		return "", execFail("Invalid operation: Invalid OAuth JSON", true)
	}
	provider, ok := m["provider"].(string)
	if !ok {
		return "", execFail("Invalid operation: OAuth user requires 'provider' field", true)
	}
	subject, ok := m["subject"].(string)
	if !ok {
		return "", execFail("Invalid operation: OAuth user requires 'subject' field", true)
	}
	b, err := json.Marshal(struct {
		ProviderType string `json:"provider_type"`
		Issuer       string `json:"issuer"`
		Subject      string `json:"subject"`
	}{providerType(provider), provider, subject})
	if err != nil {
		return "", execFail("Invalid operation: Invalid OAuth JSON", true)
	}
	return string(b), nil
}

// knownIssuers maps issuer fragments to KalamDB's provider type names, for
// the common providers; any other issuer is its own (custom) type.
var knownIssuers = []struct{ fragment, name string }{
	{"keycloak", "keycloak"}, {"/realms/", "keycloak"},
	{"securetoken.google.com", "firebase"}, {"accounts.google.com", "google"},
	{"login.microsoftonline.com", "azure_ad"}, {"sts.windows.net", "azure_ad"},
	{"github.com", "github"}, {"gitlab", "gitlab"},
	{"okta.com", "okta"}, {"auth0.com", "auth0"},
}

func providerType(issuer string) string {
	l := strings.ToLower(issuer)
	for _, k := range knownIssuers {
		if strings.Contains(l, k.fragment) {
			return k.name
		}
	}
	return issuer
}
