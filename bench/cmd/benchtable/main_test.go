package main

import (
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	in := `{"case":"echo","scenario":"echo","server":"duplex","clients":50,"per_s":300,"tool_cpu":0.5,"server_cpu_us_per_op":20}
{"case":"echo","scenario":"echo","server":"duplex","clients":50,"per_s":100,"tool_cpu":0.5,"server_cpu_us_per_op":30}
{"case":"echo","scenario":"echo","server":"duplex","clients":50,"per_s":200,"tool_cpu":0.95,"server_cpu_us_per_op":10}
{"case":"echo","scenario":"echo","server":"node","clients":50,"per_s":100,"tool_cpu":0.4}
`
	res, err := read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res["echo"]["duplex"]); n != 3 {
		t.Fatalf("%d duplex results, want 3", n)
	}
	var vs []float64
	for _, r := range res["echo"]["duplex"] {
		v, _ := perSec(r)
		vs = append(vs, v)
	}
	if m := median(vs); m != 200 {
		t.Errorf("median %v, want 200", m)
	}
	if m := median([]float64{1, 2, 3, 4}); m != 2.5 {
		t.Errorf("median of four %v, want 2.5", m)
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{43196.4: "43196", 155.4: "155", 12.94: "12.9", 0.818: "0.82"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}
