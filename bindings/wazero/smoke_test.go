package wazero

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/fsm"
)

func TestEngineStepsLikeTheNativeOne(t *testing.T) {
	h := sharedHost(t)
	ctx := context.Background()
	e, err := h.NewEngine(ctx, fsm.Config{Namespace: "app", Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	// The same inputs through the native engine give the expected effects.
	native := fsm.New(fsm.Config{Namespace: "app", Seed: 7})
	for i, in := range []fsm.Input{
		fsm.SetCredentials{Credentials: auth.Credentials{AccessToken: auth.NewSecret("tok")}},
		fsm.Subscribe{ID: "s1", SQL: "SELECT * FROM t"},
	} {
		want, werr := native.Step(0, in)
		if werr != nil {
			t.Fatalf("step %d (%T): native engine: %v", i, in, werr)
		}
		got, err := e.Step(0, in)
		if err != nil {
			t.Fatalf("step %d (%T): %v", i, in, err)
		}
		if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want); g != w {
			t.Fatalf("step %d (%T): effects\n got %s\nwant %s", i, in, g, w)
		}
		if e.State() != native.State() {
			t.Fatalf("step %d (%T): state %v, native %v", i, in, e.State(), native.State())
		}
	}
	if subs := e.Subscriptions(); len(subs) != 1 || subs[0].ID != "s1" || e.Namespace() != "app" {
		t.Fatalf("view: %v %q", subs, e.Namespace())
	}
	_, err = e.Step(0, fsm.Subscribe{ID: "s1", SQL: "SELECT 1"})
	if !errors.Is(err, fsm.ErrDuplicateSubscription) {
		t.Fatalf("duplicate subscribe: %v", err)
	}
}
