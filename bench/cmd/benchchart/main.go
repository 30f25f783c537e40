// Command benchchart draws the JSON lines of sioload runs as an SVG bar
// chart: for each case, one horizontal bar per server (Duplex, the Node
// server, the floor), its length the server's figure over the Node
// server's, labelled with the figure itself. A case run several times
// shows the median, as in benchtable's table. The conditions line comes
// from the header of the markdown table, when given.
//
//	benchchart -md bench/results/latest.md < bench/results/latest.jsonl > bench/results/latest.svg
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// result is the part of sioload's output the chart shows.
type result struct {
	Case       string   `json:"case"`
	Scenario   string   `json:"scenario"`
	Server     string   `json:"server"`
	Clients    int      `json:"clients"`
	Rooms      int      `json:"rooms"`
	RoomsPer   int      `json:"rooms_per_client"`
	Offered    float64  `json:"offered_per_s"`
	Window     int      `json:"window"`
	PerSec     float64  `json:"per_s"`
	ServerUsOp *float64 `json:"server_cpu_us_per_op"`
	Memory     *struct {
		PerClient float64 `json:"kib_per_client"`
	} `json:"memory"`
}

// tag is the case a result belongs to.
func (r *result) tag() string {
	if r.Case != "" {
		return r.Case
	}
	return r.Scenario
}

// figure is one group of bars: one figure of one case.
type figure struct {
	id    string // unique in the chart: the case, or case/what
	tag   string // the case it is read from
	label func(r *result) string
	unit  string
	value func(r *result) (float64, bool)
}

// panel is a titled list of figures that share a direction.
type panel struct {
	title   string
	figures []figure
}

func perSec(r *result) (float64, bool) { return r.PerSec, r.PerSec > 0 }

func cpuOp(r *result) (float64, bool) {
	if r.ServerUsOp == nil || *r.ServerUsOp <= 0 {
		return 0, false
	}
	return *r.ServerUsOp, true
}

func kibPerClient(r *result) (float64, bool) {
	if r.Memory == nil || r.Memory.PerClient <= 0 {
		return 0, false
	}
	return r.Memory.PerClient, true
}

func itoa(n int) string                   { return strconv.Itoa(n) }
func rate(v float64) string               { return strconv.FormatFloat(v, 'f', -1, 64) }
func fixed(s string) func(*result) string { return func(*result) string { return s } }

// panels lists the figures charted, per case of bench/run.sh.
var panels = []panel{
	{"Throughput at saturation (higher is better)", []figure{
		{"connect", "connect", func(r *result) string { return "WebSocket connections/s, " + itoa(r.Clients) + " clients" }, "/s", perSec},
		{"connect-polling", "connect-polling", func(r *result) string { return "polling handshakes/s, " + itoa(r.Clients) + " clients" }, "/s", perSec},
		{"echo", "echo", func(r *result) string { return "echo acks/s, " + itoa(r.Clients) + " clients" }, "/s", perSec},
		{"broadcast", "broadcast", func(r *result) string {
			return "broadcast deliveries/s to " + itoa(r.Clients) + ", " + itoa(r.Window) + " in flight"
		}, "/s", perSec},
		{"rooms", "rooms", func(r *result) string {
			return "room deliveries/s, " + itoa(r.Rooms) + " rooms of " + itoa(r.Clients/max(r.Rooms, 1))
		}, "/s", perSec},
		{"polling", "polling", func(r *result) string { return "polling echo acks/s, " + itoa(r.Clients) + " clients" }, "/s", perSec},
		{"echo-2cores", "echo-2cores", fixed("echo acks/s, server on 2 cores"), "/s", perSec},
		{"broadcast-2cores", "broadcast-2cores", fixed("broadcast deliveries/s, server on 2 cores"), "/s", perSec},
	}},
	{"Server CPU and memory (lower is better)", []figure{
		{"echo-rate", "echo-rate", func(r *result) string { return "CPU µs per echo ack at " + rate(r.Offered) + "/s" }, " µs", cpuOp},
		{"broadcast-rate", "broadcast-rate", func(r *result) string {
			return "CPU µs per delivery at " + rate(r.Offered) + "/s to " + itoa(r.Clients)
		}, " µs", cpuOp},
		{"polling-rate", "polling-rate", func(r *result) string { return "CPU µs per polling ack at " + rate(r.Offered) + "/s" }, " µs", cpuOp},
		{"connect/memory", "connect", func(r *result) string { return "RSS KiB per idle client, " + itoa(r.Clients) + " clients" }, " KiB", kibPerClient},
		{"connect-rooms/memory", "connect-rooms", func(r *result) string {
			return "RSS KiB per idle client in " + itoa(r.RoomsPer) + " rooms, " + itoa(r.Clients) + " clients"
		}, " KiB", kibPerClient},
		{"polling-idle/memory", "polling-idle", func(r *result) string {
			return "RSS KiB per idle polling session, " + itoa(r.Clients) + " sessions"
		}, " KiB", kibPerClient},
	}},
}

// knownServers fixes the order and colour of the usual servers; others
// follow in the order they first appear.
var knownServers = []struct{ name, title, colour string }{
	{"duplex", "Duplex", "#1f6feb"},
	{"node", "Node socket.io", "#3c8d3c"},
	{"floor", "floor (bare WebSocket)", "#9a9a9a"},
}

var otherColours = []string{"#d08a1f", "#8a4fd0", "#c0392b"}

// bar is one drawn bar.
type bar struct {
	server string
	value  float64 // the absolute figure
	ratio  float64 // value over the baseline's
}

// group is the bars of one figure.
type group struct {
	id, label, unit, base string
	bars                  []bar
}

// chart is everything drawn.
type chart struct {
	conditions string
	servers    []string
	panels     []chartPanel
}

type chartPanel struct {
	title  string
	groups []group
}

func main() {
	md := flag.String("md", "", "the markdown table of the same run, for the conditions line")
	out := flag.String("o", "", "write the SVG here instead of stdout")
	base := flag.String("base", "node", "the server whose figures are 1.0")
	flag.Parse()
	header := ""
	if *md != "" {
		b, err := os.ReadFile(*md)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchchart:", err)
			os.Exit(1)
		}
		header = string(b)
	}
	var buf bytes.Buffer
	if err := run(os.Stdin, header, *base, &buf); err != nil {
		fmt.Fprintln(os.Stderr, "benchchart:", err)
		os.Exit(1)
	}
	var err error
	if *out != "" {
		err = os.WriteFile(*out, buf.Bytes(), 0o644)
	} else {
		_, err = os.Stdout.Write(buf.Bytes())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchchart:", err)
		os.Exit(1)
	}
}

// run reads sioload's JSON lines from in and writes the chart to w; md is
// the markdown table's text, or "".
func run(in io.Reader, md, base string, w io.Writer) error {
	results, order, err := read(in)
	if err != nil {
		return err
	}
	if len(results) == 0 {
		return errors.New("no results")
	}
	bw := bufio.NewWriter(w)
	build(results, order, base, conditions(md, results)).writeSVG(bw)
	return bw.Flush()
}

// read groups results by case and server, and lists the servers in the
// order they first appear.
func read(in io.Reader) (map[string]map[string][]*result, []string, error) {
	out := map[string]map[string][]*result{}
	var servers []string
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] != '{' {
			continue
		}
		r := new(result)
		if err := json.Unmarshal([]byte(line), r); err != nil {
			return nil, nil, fmt.Errorf("%q: %w", line, err)
		}
		if r.Server == "" {
			continue
		}
		if out[r.tag()] == nil {
			out[r.tag()] = map[string][]*result{}
		}
		out[r.tag()][r.Server] = append(out[r.tag()][r.Server], r)
		if !slices.Contains(servers, r.Server) {
			servers = append(servers, r.Server)
		}
	}
	return out, servers, sc.Err()
}

// median is the middle value, or the mean of the two middle ones.
func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// build computes the bars: per figure, the median of each server's runs
// over the baseline server's median. A figure the baseline lacks is
// relative to the first server that has it.
func build(results map[string]map[string][]*result, seen []string, base, cond string) *chart {
	var servers []string
	for _, k := range knownServers {
		if slices.Contains(seen, k.name) {
			servers = append(servers, k.name)
		}
	}
	for _, s := range seen {
		if !slices.Contains(servers, s) {
			servers = append(servers, s)
		}
	}
	c := &chart{conditions: cond, servers: servers}
	for _, p := range panels {
		cp := chartPanel{title: p.title}
		for _, f := range p.figures {
			byServer := results[f.tag]
			vals := map[string]float64{}
			var first *result
			for _, s := range servers {
				var vs []float64
				for _, r := range byServer[s] {
					if v, ok := f.value(r); ok {
						vs = append(vs, v)
						if first == nil {
							first = r
						}
					}
				}
				if len(vs) > 0 {
					vals[s] = median(vs)
				}
			}
			if len(vals) == 0 {
				continue
			}
			g := group{id: f.id, label: f.label(first), unit: f.unit, base: base}
			if _, ok := vals[base]; !ok {
				for _, s := range servers {
					if _, ok := vals[s]; ok {
						g.base = s
						break
					}
				}
			}
			for _, s := range servers {
				if v, ok := vals[s]; ok {
					g.bars = append(g.bars, bar{server: s, value: v, ratio: v / vals[g.base]})
				}
			}
			cp.groups = append(cp.groups, g)
		}
		if len(cp.groups) > 0 {
			c.panels = append(c.panels, cp)
		}
	}
	return c
}

var measured = regexp.MustCompile(`(\S+) measured`)

// conditions is the line under the title: the machine, versions, pinning
// and date from the markdown table's header, and the runs per figure.
func conditions(md string, results map[string]map[string][]*result) string {
	var parts []string
	field := func(prefix string) (string, bool) {
		for _, line := range strings.Split(md, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "- "+prefix); ok {
				return strings.TrimSpace(v), true
			}
		}
		return "", false
	}
	if v, ok := field("Machine:"); ok {
		v, _, _ = strings.Cut(v, ", Linux")
		parts = append(parts, strings.TrimSuffix(v, "."))
	}
	if v, ok := field("go"); ok {
		v, _, _ = strings.Cut(v, ";")
		parts = append(parts, "go"+v)
	}
	if v, ok := field("Pinning:"); ok {
		v, _, _ = strings.Cut(v, ". ")
		v = strings.TrimSuffix(strings.TrimSuffix(v, "."), " (taskset)")
		parts = append(parts, v)
	}
	runs := 0
	for _, byServer := range results {
		for _, rs := range byServer {
			runs = max(runs, len(rs))
		}
	}
	each := ""
	if v, ok := field("Each run:"); ok {
		if m := measured.FindStringSubmatch(v); m != nil {
			each = m[1] + " measured, "
		}
	}
	switch {
	case runs > 1:
		parts = append(parts, fmt.Sprintf("%smedian of %d runs", each, runs))
	case runs == 1:
		parts = append(parts, each+"one run")
	}
	if v, ok := field("Date:"); ok {
		date, rest, _ := strings.Cut(v, ";")
		commit, _, _ := strings.Cut(strings.TrimSpace(rest), ";")
		parts = append(parts, strings.TrimSpace(strings.TrimSpace(commit)+", "+date))
	}
	return strings.Join(parts, " · ")
}

func serverTitle(s string) string {
	for _, k := range knownServers {
		if k.name == s {
			return k.title
		}
	}
	return s
}

func (c *chart) colour(s string) string {
	for _, k := range knownServers {
		if k.name == s {
			return k.colour
		}
	}
	n := 0
	for _, o := range c.servers {
		if o == s {
			break
		}
		if !slices.ContainsFunc(knownServers, func(k struct{ name, title, colour string }) bool { return k.name == o }) {
			n++
		}
	}
	return otherColours[n%len(otherColours)]
}

// Layout, in pixels.
const (
	width      = 960
	margin     = 20
	labelWidth = 330 // figure labels, right-aligned against the bars
	barsX      = margin + labelWidth + 10
	valueRoom  = 130 // right of the longest bar, for its label
	barHeight  = 13
	barGap     = 2
	groupGap   = 12
	fontFamily = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"
)

// scale is the pixels per 1.0: the longest bar fills the room left.
func (c *chart) scale() float64 {
	longest := 1.0
	for _, p := range c.panels {
		for _, g := range p.groups {
			for _, b := range g.bars {
				longest = max(longest, b.ratio)
			}
		}
	}
	return float64(width-barsX-margin-valueRoom) / longest
}

// writeSVG draws the chart.
func (c *chart) writeSVG(w *bufio.Writer) {
	scale := c.scale()
	base := baseOf(c)
	var body strings.Builder
	y := margin + 18.0
	fmt.Fprintf(&body, `<text x="%d" y="%.0f" font-size="18" font-weight="600">%s</text>`+"\n", margin, y,
		esc("Duplex against the Node socket.io server and the floor ("+serverTitle(base)+" = 1.0)"))
	y += 20
	for _, line := range wrap(c.conditions, 150) {
		fmt.Fprintf(&body, `<text x="%d" y="%.0f" font-size="12" fill="#555">%s</text>`+"\n", margin, y, esc(line))
		y += 16
	}
	// Legend.
	y += 6
	x := float64(margin)
	for _, s := range c.servers {
		fmt.Fprintf(&body, `<rect x="%.0f" y="%.0f" width="12" height="12" fill="%s"/>`+"\n", x, y-10, c.colour(s))
		t := serverTitle(s)
		fmt.Fprintf(&body, `<text x="%.0f" y="%.0f" font-size="12">%s</text>`+"\n", x+16, y, esc(t))
		x += 16 + float64(len(t))*7 + 24
	}
	y += 14
	for _, p := range c.panels {
		y += 16
		fmt.Fprintf(&body, `<text x="%d" y="%.0f" font-size="14" font-weight="600">%s</text>`+"\n", margin, y, esc(p.title))
		y += 10
		top := y
		var bars strings.Builder
		for _, g := range p.groups {
			h := float64(len(g.bars)*(barHeight+barGap) - barGap)
			label := g.label
			if g.base != base {
				label += " (relative to " + serverTitle(g.base) + ")"
			}
			fmt.Fprintf(&bars, `<text x="%d" y="%.1f" font-size="12" text-anchor="end">%s</text>`+"\n", barsX-8, y+h/2+4, esc(label))
			for _, b := range g.bars {
				bw := b.ratio * scale
				fmt.Fprintf(&bars, `<rect class="bar" data-figure="%s" data-server="%s" data-value="%s" data-ratio="%s" x="%d" y="%.0f" width="%.2f" height="%d" fill="%s"><title>%s: %s%s</title></rect>`+"\n",
					esc(g.id), esc(b.server), strconv.FormatFloat(b.value, 'g', -1, 64), strconv.FormatFloat(b.ratio, 'g', -1, 64),
					barsX, y, bw, barHeight, c.colour(b.server), esc(serverTitle(b.server)), num(b.value), esc(g.unit))
				fmt.Fprintf(&bars, `<text x="%.2f" y="%.0f" font-size="11" fill="#333" stroke="#fff" stroke-width="3" paint-order="stroke">%s%s (%.2f×)</text>`+"\n",
					float64(barsX)+bw+4, y+barHeight-3, num(b.value), esc(g.unit), b.ratio)
				y += barHeight + barGap
			}
			y += groupGap - barGap
		}
		// The grid under the bars: the ticks, and the baseline dashed.
		bottom := y - groupGap + 4
		fmt.Fprintf(&body, `<g class="panel" data-title="%s">`+"\n", esc(p.title))
		for t := 0.0; t*scale <= float64(width-barsX-margin-valueRoom)+0.5; t += tickStep(scale) {
			tx := float64(barsX) + t*scale
			stroke, dash := "#ddd", ""
			if t == 1 {
				stroke, dash = "#444", ` stroke-dasharray="4 3"`
			}
			fmt.Fprintf(&body, `<line x1="%.2f" y1="%.0f" x2="%.2f" y2="%.0f" stroke="%s"%s/>`+"\n", tx, top-4, tx, bottom, stroke, dash)
			fmt.Fprintf(&body, `<text x="%.2f" y="%.0f" font-size="10" fill="#666" text-anchor="middle">%s</text>`+"\n", tx, bottom+12, strconv.FormatFloat(t, 'f', -1, 64)+"×")
		}
		body.WriteString(bars.String())
		fmt.Fprintln(&body, "</g>")
		y = bottom + 20
	}
	y += 4
	fmt.Fprintf(&body, `<text x="%d" y="%.0f" font-size="11" fill="#555">%s</text>`+"\n", margin, y,
		esc("Bar length: the figure over "+serverTitle(base)+"'s (1.0×, dashed). Labels: the absolute figure. Generated by bench/cmd/benchchart from bench/results/latest.jsonl."))
	height := int(math.Ceil(y)) + margin

	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="%s">`+"\n", width, height, width, height, fontFamily)
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="#fff"/>`+"\n")
	w.WriteString(body.String())
	w.WriteString("</svg>\n")
}

// baseOf is the chart's baseline: the one most groups use.
func baseOf(c *chart) string {
	count := map[string]int{}
	best := ""
	for _, p := range c.panels {
		for _, g := range p.groups {
			count[g.base]++
			if count[g.base] > count[best] {
				best = g.base
			}
		}
	}
	return best
}

// tickStep is the distance between ticks, in ratio: about every 60px.
func tickStep(scale float64) float64 {
	for _, s := range []float64{0.25, 0.5, 1, 2, 5, 10, 20, 50, 100} {
		if s*scale >= 60 {
			return s
		}
	}
	return 1000
}

// wrap splits s into lines of at most n characters, at " · " or spaces.
func wrap(s string, n int) []string {
	if s == "" {
		return nil
	}
	var lines []string
	line := ""
	for _, part := range strings.Split(s, " · ") {
		switch {
		case line == "":
			line = part
		case len([]rune(line))+3+len([]rune(part)) <= n:
			line += " · " + part
		default:
			lines = append(lines, line)
			line = part
		}
	}
	return append(lines, line)
}

// num prints a figure with three significant digits, or as an integer
// with commas between thousands.
func num(v float64) string {
	switch {
	case v >= 1000:
		s := strconv.FormatFloat(v, 'f', 0, 64)
		var b strings.Builder
		for i, r := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteRune(',')
			}
			b.WriteRune(r)
		}
		return b.String()
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")

func esc(s string) string { return escaper.Replace(s) }
