package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat.
// It is 100 on every Linux architecture Go supports.
const clockTicks = 100

// cpuTime returns the user+system CPU time of process pid ("self" for
// this one) from /proc/PID/stat.
func cpuTime(pid string) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name is in parentheses and may hold spaces: fields are
	// counted from the last ')'. utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%s/stat: no command name", pid)
	}
	fields := bytes.Fields(b[i+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%s/stat: %d fields", pid, len(fields))
	}
	utime, err1 := strconv.ParseUint(string(fields[11]), 10, 64)
	stime, err2 := strconv.ParseUint(string(fields[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%s/stat: bad utime or stime", pid)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// rssKiB returns VmRSS of process pid from /proc/PID/status, in KiB.
func rssKiB(pid string) (int64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			v = bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(v), []byte("kB")))
			return strconv.ParseInt(string(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%s/status: no VmRSS", pid)
}

// machineBusy returns the CPU time all CPUs spent busy (not idle nor
// waiting for I/O), from /proc/stat.
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	fields := bytes.Fields(line)
	if len(fields) < 8 || string(fields[0]) != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected %q", line)
	}
	var busy uint64
	for i, f := range fields[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is already in user
			continue
		}
		v, err := strconv.ParseUint(string(f), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		busy += v
	}
	return time.Duration(busy) * time.Second / clockTicks, nil
}

// cpuMeter measures the CPU used by this process and, when pid is set,
// by the server over a window of wall-clock time.
type cpuMeter struct {
	pid                string
	start              time.Time
	self, server, busy time.Duration
}

func startCPU(pid string) *cpuMeter {
	m := &cpuMeter{pid: pid, start: time.Now()}
	m.busy, _ = machineBusy()
	m.self, _ = cpuTime("self")
	if pid != "" {
		m.server, _ = cpuTime(pid)
	}
	return m
}

// cpuUse is what a cpuMeter measured: CPU time used and wall time.
type cpuUse struct {
	Wall   time.Duration
	Self   time.Duration
	Server time.Duration // -1 when no pid was given
	// Other is the CPU time the rest of the machine used: other
	// processes, and interrupts not charged to either process.
	Other time.Duration
}

func (m *cpuMeter) stop() cpuUse {
	u := cpuUse{Wall: time.Since(m.start), Server: -1}
	self, _ := cpuTime("self")
	u.Self = self - m.self
	if m.pid != "" {
		if s, err := cpuTime(m.pid); err == nil {
			u.Server = s - m.server
		}
	}
	if busy, err := machineBusy(); err == nil {
		u.Other = busy - m.busy - u.Self - max(u.Server, 0)
	}
	return u
}
