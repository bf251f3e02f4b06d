//go:build linux

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns a pseudo-terminal's controller and its terminal side.
func openPTY(cols, rows int) (ctl, tty *os.File, err error) {
	ctl, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	fd := int(ctl.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		ctl.Close()
		return nil, nil, err
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		ctl.Close()
		return nil, nil, err
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		ctl.Close()
		return nil, nil, err
	}
	_ = unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(rows), Col: uint16(cols)})
	return ctl, tty, nil
}

var ansiRE = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-Z\\-_]`)

// TestLaunchTime measures launch → first frame with data: the real binary
// in a pseudo-terminal (160×48), from exec to the first output showing the
// overview's event count, N times. A measurement, run only when asked:
//
//	E2E_LAUNCH_DB=postgres://... E2E_LAUNCH_EXPECT='Events 1,000,000' go test ./tui/e2e/ -run TestLaunchTime -v
func TestLaunchTime(t *testing.T) {
	db := os.Getenv("E2E_LAUNCH_DB")
	if db == "" {
		t.Skip("set E2E_LAUNCH_DB (and E2E_LAUNCH_EXPECT, default \"Events \") to measure the launch")
	}
	expect := os.Getenv("E2E_LAUNCH_EXPECT")
	if expect == "" {
		expect = "Events "
	}
	runs := 20
	if n, err := strconv.Atoi(os.Getenv("E2E_LAUNCH_RUNS")); err == nil && n > 0 {
		runs = n
	}
	bin := eventscopeBinary(t)
	var firstFrame, withData []time.Duration
	for i := 0; i < runs; i++ {
		ctl, tty, err := openPTY(160, 48)
		if err != nil {
			t.Skipf("no pseudo-terminal: %v", err)
		}
		cmd := exec.Command(bin, "tui", "--db", db)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		tty.Close()
		var (
			screen     strings.Builder
			first, got time.Duration
			buf        = make([]byte, 64<<10)
		)
		_ = ctl.SetReadDeadline(time.Now().Add(20 * time.Second))
		for got == 0 {
			n, err := ctl.Read(buf)
			if err != nil {
				t.Fatalf("run %d: %v; screen so far:\n%s", i, err, ansiRE.ReplaceAllString(screen.String(), ""))
			}
			chunk := buf[:n]
			// Answer the terminal queries termenv makes at start (the
			// background colour, the cursor position) as a terminal would.
			if strings.Contains(string(chunk), "\x1b]11;?") {
				_, _ = ctl.WriteString("\x1b]11;rgb:0000/0000/0000\x07")
			}
			if strings.Contains(string(chunk), "\x1b[6n") {
				_, _ = ctl.WriteString("\x1b[1;1R")
			}
			screen.Write(chunk)
			plain := ansiRE.ReplaceAllString(screen.String(), "")
			if first == 0 && strings.Contains(plain, "1 Overview") {
				first = time.Since(start)
			}
			if strings.Contains(plain, expect) {
				got = time.Since(start)
			}
		}
		firstFrame, withData = append(firstFrame, first), append(withData, got)
		_, _ = ctl.WriteString("q")
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		go func() { _, _ = ctl.Read(make([]byte, 1<<20)) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		ctl.Close()
		time.Sleep(time.Second) // let the server finish the last run's queries
	}
	stats := func(d []time.Duration) string {
		s := slices.Clone(d)
		slices.Sort(s)
		ms := func(x time.Duration) string { return fmt.Sprintf("%.0f", float64(x)/float64(time.Millisecond)) }
		return fmt.Sprintf("median %s ms, p90 %s ms, min %s, max %s (%d runs)", ms(s[len(s)/2]), ms(s[len(s)*9/10]), ms(s[0]), ms(s[len(s)-1]), len(s))
	}
	t.Logf("launch → first frame:           %s", stats(firstFrame))
	t.Logf("launch → first frame with data: %s", stats(withData))
}
