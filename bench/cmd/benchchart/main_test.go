package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// svgBar is a bar as read back from the SVG.
type svgBar struct {
	figure, server string
	value, width   float64
}

// parseSVG checks that the chart is well-formed XML with an svg root and
// returns its bars and texts.
func parseSVG(t *testing.T, svg []byte) (bars []svgBar, texts []string) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(svg))
	depth, root := 0, ""
	inText := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				root = el.Name.Space + " " + el.Name.Local
			}
			depth++
			inText = el.Name.Local == "text"
			if el.Name.Local != "rect" {
				continue
			}
			attr := map[string]string{}
			for _, a := range el.Attr {
				attr[a.Name.Local] = a.Value
			}
			if attr["class"] != "bar" {
				continue
			}
			b := svgBar{figure: attr["data-figure"], server: attr["data-server"]}
			var err1, err2 error
			b.value, err1 = strconv.ParseFloat(attr["data-value"], 64)
			b.width, err2 = strconv.ParseFloat(attr["width"], 64)
			if err1 != nil || err2 != nil || b.figure == "" || b.server == "" {
				t.Fatalf("bar with attributes %v", attr)
			}
			bars = append(bars, b)
		case xml.EndElement:
			depth--
			inText = false
		case xml.CharData:
			if inText {
				texts = append(texts, string(el))
			}
		}
	}
	if root != "http://www.w3.org/2000/svg svg" {
		t.Fatalf("root element %q, want an SVG svg", root)
	}
	return bars, texts
}

func chartOf(t *testing.T, in, md string) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := run(strings.NewReader(in), md, "node", &out); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestChart(t *testing.T) {
	// echo: node's median is 200, duplex's 300, floor's 250. rooms has no
	// floor run. echo-rate charts CPU per operation.
	in := `{"case":"echo","scenario":"echo","server":"duplex","clients":50,"per_s":300}
{"case":"echo","scenario":"echo","server":"node","clients":50,"per_s":100}
{"case":"echo","scenario":"echo","server":"node","clients":50,"per_s":300}
{"case":"echo","scenario":"echo","server":"node","clients":50,"per_s":200}
{"case":"echo","scenario":"echo","server":"floor","clients":50,"per_s":250}
{"case":"rooms","scenario":"rooms","server":"duplex","clients":1000,"rooms":100,"per_s":87000}
{"case":"rooms","scenario":"rooms","server":"node","clients":1000,"rooms":100,"per_s":58000}
{"case":"echo-rate","scenario":"echo","server":"duplex","clients":50,"offered_per_s":5000,"per_s":5000,"server_cpu_us_per_op":40}
{"case":"echo-rate","scenario":"echo","server":"node","clients":50,"offered_per_s":5000,"per_s":5000,"server_cpu_us_per_op":50}
{"case":"echo-rate","scenario":"echo","server":"floor","clients":50,"offered_per_s":5000,"per_s":5000,"server_cpu_us_per_op":25}
`
	md := "# Benchmark results\n\n- Date: 2026-01-02 03:04 UTC; Duplex at abc1234; bench/run.sh took 9s.\n- Machine: 2 CPUs (Test CPU), 8 GiB, Linux 6.1.\n- go1.26.0, Node v20.0.0, socket.io 4.8.4; servers with default options.\n- Pinning: server on CPU 0, load tool on CPU 1 (taskset). ulimit -n 1024.\n- Each run: a fresh server process, 1s warm-up, 5s measured; events carry a 32-byte string.\n"
	bars, texts := parseSVG(t, chartOf(t, in, md))

	want := map[string]float64{ // figure/server: ratio to node
		"echo/duplex": 1.5, "echo/node": 1, "echo/floor": 1.25,
		"rooms/duplex": 87000.0 / 58000, "rooms/node": 1,
		"echo-rate/duplex": 0.8, "echo-rate/node": 1, "echo-rate/floor": 0.5,
	}
	values := map[string]float64{
		"echo/duplex": 300, "echo/node": 200, "echo/floor": 250,
		"rooms/duplex": 87000, "rooms/node": 58000,
		"echo-rate/duplex": 40, "echo-rate/node": 50, "echo-rate/floor": 25,
	}
	got := map[string]svgBar{}
	for _, b := range bars {
		k := b.figure + "/" + b.server
		if _, dup := got[k]; dup {
			t.Errorf("two bars for %s", k)
		}
		got[k] = b
	}
	if len(got) != len(want) {
		t.Errorf("bars %v, want one for each of %v", got, want)
	}
	// Every bar's length is its ratio times one scale: node's bar, at 1.0,
	// gives the scale.
	scale := got["echo/node"].width
	if scale <= 0 {
		t.Fatalf("node's echo bar has width %v", scale)
	}
	for k, ratio := range want {
		b, ok := got[k]
		if !ok {
			t.Errorf("no bar for %s", k)
			continue
		}
		if math.Abs(b.width-ratio*scale) > 0.01 {
			t.Errorf("%s: width %v, want %v (%v × %v)", k, b.width, ratio*scale, ratio, scale)
		}
		if b.value != values[k] {
			t.Errorf("%s: value %v, want %v", k, b.value, values[k])
		}
	}

	all := strings.Join(texts, "\n")
	for _, s := range []string{
		"Node socket.io = 1.0",
		"2 CPUs (Test CPU), 8 GiB · go1.26.0, Node v20.0.0, socket.io 4.8.4 · server on CPU 0, load tool on CPU 1 · 5s measured, median of 3 runs",
		"Duplex at abc1234, 2026-01-02 03:04 UTC",
		"echo acks/s, 50 clients",
		"room deliveries/s, 100 rooms of 10",
		"CPU µs per echo ack at 5000/s",
		"300/s (1.50×)",
		"87,000/s (1.50×)",
		"25.0 µs (0.50×)",
	} {
		if !strings.Contains(all, s) {
			t.Errorf("no text %q in:\n%s", s, all)
		}
	}
}

// TestChartWithoutNode draws figures relative to the first server when
// the Node server did not run.
func TestChartWithoutNode(t *testing.T) {
	in := `{"case":"echo","server":"duplex","clients":50,"per_s":400}
{"case":"echo","server":"floor","clients":50,"per_s":500}
`
	bars, texts := parseSVG(t, chartOf(t, in, ""))
	if len(bars) != 2 {
		t.Fatalf("%d bars, want 2", len(bars))
	}
	if d, f := bars[0], bars[1]; d.server != "duplex" || f.server != "floor" || math.Abs(f.width-1.25*d.width) > 0.01 {
		t.Fatalf("bars %+v", bars)
	}
	if all := strings.Join(texts, "\n"); !strings.Contains(all, "Duplex = 1.0") {
		t.Errorf("title does not name the baseline:\n%s", all)
	}
}

// TestChartEscapes keeps the SVG well-formed whatever the names.
func TestChartEscapes(t *testing.T) {
	in := `{"case":"echo","server":"node","clients":1,"per_s":1}
{"case":"echo","server":"a<b>&\"c'","clients":1,"per_s":2}
`
	bars, _ := parseSVG(t, chartOf(t, in, "- Machine: <&>\n"))
	if len(bars) != 2 || bars[1].server != `a<b>&"c'` {
		t.Fatalf("bars %+v", bars)
	}
	if err := run(strings.NewReader("not json\n"), "", "node", io.Discard); err == nil {
		t.Error("an input without results made a chart")
	}
	if err := run(strings.NewReader("{bad\n"), "", "node", io.Discard); err == nil {
		t.Error("a malformed line made a chart")
	}
}

// TestLatest draws the repository's latest results: one bar per server per
// charted figure present in them.
func TestLatest(t *testing.T) {
	in, err := os.ReadFile("../../results/latest.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile("../../results/latest.md")
	if err != nil {
		t.Fatal(err)
	}
	bars, _ := parseSVG(t, chartOf(t, string(in), string(md)))
	results, _, err := read(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	wantBars := 0
	for _, p := range panels {
		for _, f := range p.figures {
			for server, rs := range results[f.tag] {
				has := false
				for _, r := range rs {
					if _, ok := f.value(r); ok {
						has = true
					}
				}
				if !has {
					continue
				}
				wantBars++
				n := 0
				for _, b := range bars {
					if b.figure == f.id && b.server == server {
						n++
					}
				}
				if n != 1 {
					t.Errorf("%d bars for %s of %s, want 1", n, f.id, server)
				}
			}
		}
	}
	if wantBars == 0 || len(bars) != wantBars {
		t.Errorf("%d bars, want %d", len(bars), wantBars)
	}
}
