module github.com/duplexio/duplex/examples/cluster

go 1.26.0

replace github.com/duplexio/duplex => ../..

replace github.com/duplexio/duplex/adapter/redis => ../../adapter/redis

require (
	github.com/duplexio/duplex v0.0.0-00010101000000-000000000000
	github.com/duplexio/duplex/adapter/redis v0.0.0-00010101000000-000000000000
	github.com/gorilla/websocket v1.5.3
	github.com/redis/go-redis/v9 v9.23.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)
