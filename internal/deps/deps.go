// Package deps pins the project's direct dependencies while the packages that
// use them are being written. It is removed once every one is imported for real.
package deps

import (
	_ "github.com/coder/websocket"
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/ncruces/go-sqlite3/driver"
	_ "github.com/qmuntal/stateless"
	_ "github.com/tetratelabs/wazero"
)
