package netaddr

import "testing"

func TestHost(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"127.0.0.1:8080", "127.0.0.1"},
		{"[::1]:443", "::1"},
		{"10.0.0.7", "10.0.0.7"},
		{"@", "@"}, // a Unix socket's peer
		{"", ""},
	} {
		if got := Host(c.in); got != c.want {
			t.Errorf("Host(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
