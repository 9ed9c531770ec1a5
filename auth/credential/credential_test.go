package credential

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The formatting paths that exist on every platform — wasip1 included,
// where LogValue is left out — never print a token.
func TestRedactedEverywhere(t *testing.T) {
	c := Credentials{AccessToken: NewSecret("tok-abc-123"), RefreshToken: NewSecret("ref-xyz-789"), Lifetime: time.Hour, User: "alice"}
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outs := []string{c.String(), fmt.Sprintf("%v %+v %#v %s %q %x", c, c, c, c, c, c), string(j),
		fmt.Sprintf("%v %#v %q %x", c.AccessToken, c.AccessToken, c.AccessToken, c.AccessToken)}
	for _, out := range outs {
		if strings.Contains(out, "tok-abc") || strings.Contains(out, "ref-xyz") {
			t.Errorf("a token leaked: %s", out)
		}
	}
	if c.AccessToken.Reveal() != "tok-abc-123" || !c.Usable() || (Credentials{}).Usable() {
		t.Fatal("Reveal or Usable")
	}
	if !errors.Is(&MalformedTokenError{Reason: "x"}, ErrMalformedToken) || errors.Is(ErrRejected, ErrTokenExpired) {
		t.Fatal("sentinels")
	}
	if ReasonRejected.String() != "rejected" || Reason(9).String() != "Reason(9)" {
		t.Fatal("Reason.String")
	}
}
