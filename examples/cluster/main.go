// Command cluster is one node of a Duplex Socket.IO cluster on Redis. Run
// several behind a load balancer, all on the same Redis, and a broadcast
// sent to any of them reaches the clients of every one; run.sh starts
// three behind nginx:
//
//	./run.sh                                            # redis-server, 3 nodes, nginx; open http://localhost:8080
//	go run . -name node-1 -addr localhost:3001 -redis localhost:6379
//
// Flags, each read from an environment variable when not given:
//
//	-addr     ADDR       address to listen on (default localhost:3000)
//	-redis    REDIS_URL  Redis: host:port, redis://host:port/db or
//	                     unix:///path/to/redis.sock (default localhost:6379)
//	-name     NODE_NAME  the node's name, the answer to "whoami" (default
//	                     the host name)
//	-adapter  ADAPTER    pubsub (default), sharded or streams
//	-recovery RECOVERY   with the Streams adapter, connection state recovery
//	                     across nodes for that long (e.g. 2m); default off
//	-sticky   STICKY     true (default): the load balancer keeps each
//	                     client on one node; false: it may send any request
//	                     anywhere, and the nodes serve each other's
//	                     sessions over Redis (redisadapter.EngineBus)
//
// Once listening it prints "listening on http://HOST:PORT" on standard
// output; logs go to standard error. SIGINT or SIGTERM shut it down
// cleanly: its clients are disconnected with "server shutting down" and
// reconnect, through the load balancer, to another node.
//
// The node serves a small page at "/" and Socket.IO at "/socket.io/";
// node.go lists the events.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	redisadapter "github.com/duplexio/duplex/adapter/redis"
)

// config is a node's configuration, from flags and environment.
type config struct {
	addr     string
	redis    string
	name     string
	adapter  string
	sticky   bool
	recovery time.Duration
}

// parseConfig reads flags from args, with defaults from getenv.
func parseConfig(args []string, getenv func(string) string) (config, error) {
	host, _ := os.Hostname()
	env := func(key, def string) string { return cmp.Or(getenv(key), def) }
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	var c config
	fs.StringVar(&c.addr, "addr", env("ADDR", "localhost:3000"), "address to listen on (env ADDR)")
	fs.StringVar(&c.redis, "redis", env("REDIS_URL", "localhost:6379"), "Redis: host:port, redis://host:port/db or unix:///path (env REDIS_URL)")
	fs.StringVar(&c.name, "name", env("NODE_NAME", cmp.Or(host, "node")), "the node's name (env NODE_NAME)")
	fs.StringVar(&c.adapter, "adapter", env("ADAPTER", adapterPubSub), "pubsub, sharded or streams (env ADAPTER)")
	recovery, err := time.ParseDuration(env("RECOVERY", "0s"))
	if err != nil {
		return config{}, fmt.Errorf("RECOVERY=%q: want a duration such as 2m", getenv("RECOVERY"))
	}
	fs.DurationVar(&c.recovery, "recovery", recovery, "with -adapter streams: connection state recovery across nodes for that long (env RECOVERY)")
	sticky, err := strconv.ParseBool(env("STICKY", "true"))
	if err != nil {
		return config{}, fmt.Errorf("STICKY=%q: want true or false", getenv("STICKY"))
	}
	fs.BoolVar(&c.sticky, "sticky", sticky, "false: no sticky sessions needed; the nodes serve each other's sessions over Redis (env STICKY)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return c, nil
}

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("node", cfg.name)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		log.Error("cannot listen", "err", err)
		os.Exit(1)
	}
	if err := run(ctx, ln, cfg, os.Stdout, log); err != nil {
		log.Error("stopped", "err", err)
		os.Exit(1)
	}
}

// run serves a node on ln until ctx is done, then shuts it down: the
// Socket.IO server first (it closes the WebSockets, which the HTTP server
// does not track, and answers the pending polls, which it would wait for),
// then the HTTP server, then the Redis client. It prints "listening on
// http://ADDR" to out once serving.
func run(ctx context.Context, ln net.Listener, cfg config, out io.Writer, log *slog.Logger) error {
	rdb, err := newRedisClient(cfg.redis)
	if err != nil {
		ln.Close()
		return err
	}
	factory, err := newFactory(cfg.adapter, rdb, cfg.recovery, log)
	if err != nil {
		ln.Close()
		rdb.Close()
		return err
	}
	var bus *redisadapter.EngineBus
	if !cfg.sticky {
		if bus, err = redisadapter.NewEngineBus(ctx, rdb, &redisadapter.EngineBusOptions{Logger: log}); err != nil {
			ln.Close()
			rdb.Close()
			return err
		}
	}
	sio := newServer(cfg.name, factory, bus, cfg.recovery, log)
	// MaxHeaderBytes: the Node server's 16 KB limit on request headers
	// (net/http's default is 1 MB).
	srv := &http.Server{Handler: newHandler(sio), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(out, "listening on http://%s\n", ln.Addr())
	log.Info("serving", "addr", ln.Addr().String(), "redis", cfg.redis, "adapter", cmp.Or(cfg.adapter, adapterPubSub))

	select {
	case err := <-served:
		_ = sio.Close()
		closeBus(bus)
		_ = rdb.Close()
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errIO := sio.Shutdown(sctx)
	errHTTP := srv.Shutdown(sctx)
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		errHTTP = errors.Join(errHTTP, err)
	}
	closeBus(bus)
	return errors.Join(errIO, errHTTP, rdb.Close())
}

// closeBus closes the engine bus, if there is one.
func closeBus(bus *redisadapter.EngineBus) {
	if bus != nil {
		_ = bus.Close()
	}
}
