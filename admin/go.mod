module github.com/duplexio/duplex/admin

go 1.26

replace github.com/duplexio/duplex => ../

require (
	github.com/duplexio/duplex v0.0.0-00010101000000-000000000000
	github.com/gorilla/websocket v1.5.3
	golang.org/x/crypto v0.54.0
)

require (
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
)
