package wazero

import (
	"context"
	"errors"
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
	effs, err := e.Step(0, fsm.SetCredentials{Credentials: auth.Credentials{AccessToken: auth.NewSecret("tok")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("effects: %v state %v mem %d", effs, e.State(), e.MemorySize())
	effs, err = e.Step(0, fsm.Subscribe{ID: "s1", SQL: "SELECT * FROM t"})
	t.Logf("effects: %v err %v state %v", effs, err, e.State())
	if subs := e.Subscriptions(); len(subs) != 1 || subs[0].ID != "s1" || e.Namespace() != "app" {
		t.Fatalf("view: %v %q", subs, e.Namespace())
	}
	_, err = e.Step(0, fsm.Subscribe{ID: "s1", SQL: "SELECT 1"})
	if !errors.Is(err, fsm.ErrDuplicateSubscription) {
		t.Fatalf("duplicate subscribe: %v", err)
	}
}
