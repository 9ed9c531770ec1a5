package main

import (
	"flag"
	"strings"

	"github.com/kalamgo/kalam/kalamtest"
)

// addCORSFlags registers `kalam serve --cors-origin`: without it any
// browser origin may call the API (KalamDB's default); each use, or a
// comma-separated list, narrows that to the origins given.
func addCORSFlags(fs *flag.FlagSet, o *kalamtest.Config) {
	fs.Func("cors-origin", "a browser origin allowed to call the API, e.g. https://app.example:8443 (repeatable or comma-separated; default: any origin, as KalamDB)",
		func(v string) error {
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					o.CORSOrigins = append(o.CORSOrigins, s)
				}
			}
			return nil
		})
}
