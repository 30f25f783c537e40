// Package duplexprom exports the figures of a Duplex Socket.IO server to
// Prometheus. Its Collector reads socketio.Server.Stats when Prometheus
// scrapes: it starts no goroutine and costs the server nothing between
// scrapes.
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(duplexprom.NewCollector(io, nil))
//	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// The metrics:
//
//	duplex_sessions{transport}        gauge    open Engine.IO sessions, "polling" or "websocket"
//	duplex_handshakes_total           counter  sessions opened
//	duplex_upgrades_total             counter  sessions upgraded from polling to WebSocket
//	duplex_packets_received_total     counter  Engine.IO packets read from clients
//	duplex_packets_sent_total         counter  Engine.IO packets written to clients
//	duplex_received_bytes_total       counter  their size (engineio.Stats says what is counted)
//	duplex_sent_bytes_total           counter  their size
//	duplex_volatile_dropped_total     counter  volatile packets dropped for clients not ready
//	duplex_disconnects_total{reason}  counter  sessions closed, by close reason
//	duplex_namespace_sockets{nsp}     gauge    sockets connected to each namespace
//	duplex_namespace_rooms{nsp}       gauge    rooms with members in each namespace
//
// The package is a module of its own, so that the server's module does
// not depend on the Prometheus client.
package duplexprom
