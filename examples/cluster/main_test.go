package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
)

func TestParseConfig(t *testing.T) {
	env := map[string]string{"ADDR": ":4000", "REDIS_URL": "unix:///tmp/r.sock", "NODE_NAME": "from-env", "ADAPTER": "streams", "STICKY": "false"}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want config
	}{
		{"flags", []string{"-addr", ":3001", "-redis", "redis://r:6379/1", "-name", "node-1", "-adapter", "sharded", "-sticky=false"}, nil,
			config{addr: ":3001", redis: "redis://r:6379/1", name: "node-1", adapter: "sharded"}},
		{"environment", nil, env,
			config{addr: ":4000", redis: "unix:///tmp/r.sock", name: "from-env", adapter: "streams"}},
		{"flags over environment", []string{"-name", "node-2", "-sticky"}, env,
			config{addr: ":4000", redis: "unix:///tmp/r.sock", name: "node-2", adapter: "streams", sticky: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseConfig(tc.args, func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}

	got, err := parseConfig(nil, func(string) string { return "" })
	if err != nil || got.addr != "localhost:3000" || got.redis != "localhost:6379" || got.adapter != "pubsub" || got.name == "" || !got.sticky {
		t.Errorf("defaults: got %+v, %v", got, err)
	}
	if _, err := parseConfig([]string{"extra"}, func(string) string { return "" }); err == nil {
		t.Error("an extra argument was accepted")
	}
	if _, err := parseConfig(nil, func(k string) string { return map[string]string{"STICKY": "maybe"}[k] }); err == nil {
		t.Error("STICKY=maybe was accepted")
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	for _, cfg := range []config{
		{name: "n", redis: "localhost:6379", adapter: "memcached"},
		{name: "n", redis: "http://localhost:6379"},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := run(context.Background(), ln, cfg, io.Discard, slog.New(slog.DiscardHandler)); err == nil {
			t.Errorf("%+v: run accepted it", cfg)
		}
	}
}
