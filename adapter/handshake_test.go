package adapter

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"unicode/utf8"
)

// Repeated headers are joined as Node's HTTP parser joins them.
func TestHeaderOf(t *testing.T) {
	h := HeaderOf(http.Header{
		"Cookie":     {"a=1", "b=2"},
		"Set-Cookie": {"x=1", "y=2"},
		"Accept":     {"text/html", "*/*"},
		"User-Agent": {"first", "second"},
		"Host":       {"example.com"},
		"X-Empty":    {},
	})
	got, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"accept":"text/html, */*","cookie":"a=1; b=2","host":"example.com","set-cookie":["x=1","y=2"],"user-agent":"first"}`
	if string(got) != want {
		t.Errorf("headers %s\nwant    %s", got, want)
	}
	if h.Get("USER-agent") != "first" || h.Get("set-cookie") != "x=1" || h.Get("missing") != "" {
		t.Errorf("Get: %q %q", h.Get("user-agent"), h.Get("set-cookie"))
	}
	if h.Len() != 6 {
		t.Errorf("Len = %d, want 6 (set-cookie twice)", h.Len())
	}
	if hh := h.HTTP(); !reflect.DeepEqual(hh["Set-Cookie"], []string{"x=1", "y=2"}) || hh.Get("Cookie") != "a=1; b=2" {
		t.Errorf("HTTP() = %v", hh)
	}
	var back Header
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if back != h {
		t.Errorf("round trip: %q, want %q", back.s, h.s)
	}
}

// A NUL, which HTTP forbids, cannot split a field.
func TestHeaderNUL(t *testing.T) {
	h := HeaderOf(http.Header{"A": {"x\x00b\x00y"}, "B": {"z"}})
	if h.Get("a") != "x b y" || h.Get("b") != "z" || h.Len() != 2 {
		t.Errorf("fields %q", h.s)
	}
}

// A handshake marshals to Node's socket.handshake: the same keys in the
// same order, query values strings or lists, time from issued.
func TestHandshakeJSON(t *testing.T) {
	hs := Handshake{
		Headers: HeaderOf(http.Header{"Host": {"h"}}),
		Address: "::1",
		XDomain: true,
		Issued:  1700000000000,
		URL:     "/socket.io/?EIO=4&transport=polling&t=1&t=2",
		Auth:    map[string]any{"token": "x"},
	}
	b, err := json.Marshal(hs)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"headers", "time", "address", "xdomain", "secure", "issued", "url", "query", "auth"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	wantQuery := map[string]any{"EIO": "4", "transport": "polling", "t": []any{"1", "2"}}
	if !reflect.DeepEqual(m["query"], wantQuery) || m["time"] != hs.Time() || m["issued"] != float64(1700000000000) {
		t.Errorf("handshake %s", b)
	}
	var back Handshake
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	back.Auth = hs.Auth // decoded as map[string]any: the same
	if !reflect.DeepEqual(back, hs) {
		t.Errorf("round trip %+v\nwant       %+v", back, hs)
	}
}

// FuzzHeader: any fields survive a Header and its JSON.
func FuzzHeader(f *testing.F) {
	f.Add("Cookie", "a=1", "b=2")
	f.Add("set-cookie", "x\x00", "")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, name, v1, v2 string) {
		h := HeaderOf(http.Header{name: {v1, v2}})
		if n := h.Len(); n < 1 || n > 2 {
			t.Fatalf("%d fields of one name", n)
		}
		b, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		var back Header
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		// JSON replaces invalid UTF-8; valid fields come back as they were.
		if utf8.ValidString(name) && utf8.ValidString(v1) && utf8.ValidString(v2) && back != h {
			t.Fatalf("round trip %q, want %q", back.s, h.s)
		}
	})
}
