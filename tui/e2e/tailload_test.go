package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"eventscope/store"
)

// TestTailLoad measures the live tail at 2,000 events/s: the real binary in
// tmux on the tail view while this test appends 200 batches of 10 events a
// second; every 10 s it samples the console's CPU time and RSS from /proc,
// and at the end checks the newest event is on screen. It is a measurement,
// not a pass/fail timing: it runs only when asked,
//
//	E2E_TAIL_DB=postgres://... E2E_TAIL_LOAD=3m go test ./tui/e2e/ -run TestTailLoad -v -timeout 30m
func TestTailLoad(t *testing.T) {
	t.Parallel()
	db, dur := os.Getenv("E2E_TAIL_DB"), os.Getenv("E2E_TAIL_LOAD")
	if db == "" || dur == "" {
		t.Skip("set E2E_TAIL_DB and E2E_TAIL_LOAD (e.g. 3m) to measure the tail under load")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed")
	}
	length, err := time.ParseDuration(dur)
	if err != nil {
		t.Fatal(err)
	}
	bin := eventscopeBinary(t)
	tm := &term{t: t, sock: fmt.Sprintf("es-load-%d", os.Getpid()), session: "console", dir: os.Getenv("E2E_CAPTURES")}
	if _, err := tm.tmux("new-session", "-d", "-s", tm.session, "-x", "160", "-y", "48", bin, "tui", "--db", db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = tm.tmux("kill-server") })
	pidText, err := tm.tmux("display-message", "-p", "-t", tm.session, "#{pane_pid}")
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(pidText))
	tm.waitFor("load-overview", "Top categories")
	tm.send("4")
	tm.waitFor("load-tail", "following")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := store.Open(ctx, db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const workers, batch, perSecond = 4, 10, 2000
	var appended, seq atomic.Int64
	var lastID atomic.Value
	var wg sync.WaitGroup
	stop := time.Now().Add(length)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Second * batch * workers / perSecond)
			defer tick.Stop()
			for time.Now().Before(stop) {
				<-tick.C
				n := seq.Add(1)
				id := fmt.Sprintf("load-%07d", n)
				evs := make([]store.NewEvent, batch)
				for i := range evs {
					evs[i] = store.NewEvent{Type: "LoadTick", Data: json.RawMessage(fmt.Sprintf(`{"n":%d,"i":%d,"pad":"%s"}`, n, i, strings.Repeat("x", 120)))}
				}
				if _, err := st.Append(ctx, id, store.Any, evs...); err != nil {
					t.Error(err)
					return
				}
				appended.Add(batch)
				lastID.Store(id)
			}
		}()
	}
	type sample struct {
		at      time.Duration
		cpu     float64 // seconds
		rssKB   int64
		written int64
	}
	var samples []sample
	begin := time.Now()
	read := func() sample {
		statB, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		f := strings.Fields(string(statB[strings.LastIndexByte(string(statB), ')')+2:]))
		ut, _ := strconv.ParseFloat(f[11], 64)
		stt, _ := strconv.ParseFloat(f[12], 64)
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		var rss int64
		for _, l := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(l, "VmRSS:") {
				rss, _ = strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			}
		}
		return sample{at: time.Since(begin), cpu: (ut + stt) / 100, rssKB: rss, written: appended.Load()}
	}
	samples = append(samples, read())
	for time.Now().Before(stop) {
		time.Sleep(10 * time.Second)
		samples = append(samples, read())
	}
	wg.Wait()
	last := lastID.Load().(string)
	tm.waitFor("load-latest", last)
	samples = append(samples, read())
	t.Logf("appended %d events in %s (%.0f/s); the newest, %s, is on screen", appended.Load(), length, float64(appended.Load())/length.Seconds(), last)
	t.Logf("%8s %10s %10s %10s", "t", "cpu %", "rss MB", "appended")
	for i := 1; i < len(samples); i++ {
		a, b := samples[i-1], samples[i]
		pct := (b.cpu - a.cpu) / (b.at - a.at).Seconds() * 100
		t.Logf("%8s %10.1f %10.1f %10d", b.at.Round(time.Second), pct, float64(b.rssKB)/1024, b.written)
	}
	first, lastS := samples[0], samples[len(samples)-1]
	t.Logf("over the run: %.1f%% of one core on average, RSS %.1f → %.1f MB",
		(lastS.cpu-first.cpu)/(lastS.at-first.at).Seconds()*100, float64(first.rssKB)/1024, float64(lastS.rssKB)/1024)
}
