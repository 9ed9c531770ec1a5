module github.com/kalamgo/kalam

go 1.26.0

require (
	github.com/coder/websocket v1.8.15
	github.com/golang-jwt/jwt/v5 v5.3.1
	github.com/ncruces/go-sqlite3 v0.37.0
	github.com/qmuntal/stateless v1.7.2
	github.com/tetratelabs/wazero v1.12.0
)

require (
	github.com/ncruces/go-sqlite3-wasm/v6 v6.5.35401 // indirect
	github.com/ncruces/julianday v1.0.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
