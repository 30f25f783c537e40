package natsadapter_test

import "github.com/duplexio/duplex/internal/clusterclient"

// The tests' Socket.IO client, the one the other cluster adapters' tests
// use.
type (
	Client = clusterclient.Client
	Event  = clusterclient.Event
)

var (
	Dial          = clusterclient.Dial
	DialNamespace = clusterclient.DialNamespace
)
