module github.com/duplexio/duplex/adapter/nats

go 1.26.0

replace github.com/duplexio/duplex => ../..

require (
	github.com/duplexio/duplex v0.0.0-00010101000000-000000000000
	github.com/gorilla/websocket v1.5.3
	github.com/nats-io/nats.go v1.56.0
)

require (
	github.com/klauspost/compress v1.20.0 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	golang.org/x/crypto v0.57.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)
