// Package engineio is an Engine.IO server (protocol v4, and v3 as an
// option): the layer under Socket.IO that keeps a session open with a
// client over HTTP long-polling, WebSocket, or polling upgraded to
// WebSocket, with heartbeats and clean close reasons.
//
// Server is an http.Handler. The layer above implements Handler: for each
// new session, OnOpen gets the session as a Conn (what the layer above may
// do with it: read its request, Send, Close) and returns the
// SessionHandler that receives that session's messages and its close.
// Package socketio is that layer; nothing here knows about namespaces or
// events.
//
//	srv := engineio.NewServer(engineio.HandlerFunc(func(c engineio.Conn) engineio.SessionHandler {
//		return engineio.SessionFuncs{
//			Message: func(data []byte, binary bool) { // echo
//				c.Send([]parser.Message{{Data: data, Binary: binary}}, engineio.SendOptions{})
//			},
//		}
//	}), nil)
//	http.Handle("/engine.io/", srv)
//
// # Concurrency
//
// Each session has one goroutine reading it at a time: the pending POST's
// request goroutine over polling, the WebSocket's own reading goroutine
// otherwise. It calls OnMessage, one message after the other; OnMessage
// may take its time, which holds up that client's reading and nothing
// else. OnClose is called once, by whichever goroutine closes the session
// (a read failing, the heartbeat's timer, Close, Shutdown), possibly while
// an OnMessage of the same session still runs.
//
// Send may be called from any goroutine, and never waits for the client.
// Over WebSocket, a packet for a client with nothing queued is written by
// the goroutine that sends it, with one write the socket takes without
// waiting, under the session's lock; otherwise it is queued, and one
// writer goroutine per session, started when there is something to write
// and gone when the queue is empty, writes the queue in one batch. Over
// polling, the pending GET takes the whole queue as one payload. Either
// way a session's queue is bounded in bytes (Options.MaxQueueBytes): a
// client that falls that far behind is closed (ReasonSlowConsumer), and a
// client that stops reading while a write is under way is closed by its
// heartbeat (ReasonTransportError). The server's lock is taken only to
// find a session, open one or close one.
//
// Shutdown closes every session and waits for every goroutine the server
// started: no goroutine, timer or map entry outlives its session.
package engineio
