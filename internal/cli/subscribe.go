package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"eventscope/store"
	"eventscope/subscriptions"
)

func init() { commandFactories = append(commandFactories, newSubscribeCmd) }

func newSubscribeCmd(g *globals) *cobra.Command {
	var (
		from       string
		categories []string
		types      []string
		asJSON     bool
		count      int
		batch      int
		members    int
		partitions int
	)
	cmd := &cobra.Command{
		Use:   "subscribe NAME",
		Short: "A durable subscriber on stdout: each event as a line, checkpointed once written",
		Long: `subscribe runs the durable subscription NAME (a row in eventscope.subscriptions,
like the worker's, shown by "subs list" and the console, paused, reset and
resumed by "subs") and writes each of its events to stdout as one line: with
--json an NDJSON object in the shape of read --all --json, else tail's text
form. Any program can consume the store through a pipe:

  eventscope subscribe billing --category order --json | ./billing

Delivery is at least once. The checkpoint moves only after an event's line
was written to stdout (every line is one write(2), nothing is buffered), at
the latest every --batch events and within 250 ms while live; a subscriber
killed (even with SIGKILL) and restarted resumes from its checkpoint and
writes again at most the events after it, so a consumer sees every event at
least once and may see up to one batch twice: de-duplicate on event_id.
"Written" means accepted by the pipe or file: lines still in a pipe's buffer
when the consumer exits count as delivered. To take a fixed number of events,
use --count N (the checkpoint then stops exactly after the N-th), not head.

One process holds NAME at a time: a second "subscribe NAME" waits as a
standby and takes over within seconds of the first one's end.

Competing consumers: with --members N, NAME is a group whose streams are
split over --partitions P partitions (default 16, fixed when the group is
created) by a hash of the stream id, and this process runs N members of it,
each with its own lease connection, exactly as N processes would. Other
processes running "subscribe NAME --members M" join the same group: the
partitions are shared among all live members and move within about 2 s
when a member joins, stops or dies (a frozen one: after its lease timeout,
5 s). Each partition has its own checkpoint; each stream's events come from
one member at a time, in order, but lines of different streams interleave.
"subs list" shows the members, their partitions and lag.

--from is where a NEW subscription starts: start (the default: the whole
log), end (only events appended from now on) or a checkpoint TX:POS (the
events after it). An existing subscription resumes from its checkpoint
("subs reset NAME --to ..." moves it).

It stops cleanly on SIGINT, SIGTERM or when stdout is closed (EPIPE, for
example by "head"), saving the checkpoint of what was written; exit code 0.
A write error other than a closed pipe stops it with exit code 1.`,
		Example: `  eventscope subscribe audit --json
  eventscope subscribe billing --category order --type OrderPlaced --json | ./billing
  eventscope subscribe probe --from end --count 10 --json
  eventscope subscribe billing --category order --members 4 --json | ./billing`,
		Args: wrapArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := subscriptions.ValidateName(name); err != nil {
				return err
			}
			if count < 0 {
				return Usagef("--count must be >= 0, got %d", count)
			}
			if batch <= 0 || batch > 10000 {
				return Usagef("--batch must be within 1..10000, got %d", batch)
			}
			cats, err := splitList("--category", categories)
			if err != nil {
				return err
			}
			typs, err := splitList("--type", types)
			if err != nil {
				return err
			}
			if members < 0 || members > 64 {
				return Usagef("--members must be within 0..64, got %d", members)
			}
			if partitions < 1 || partitions > subscriptions.MaxPartitions {
				return Usagef("--partitions must be within 1..%d, got %d", subscriptions.MaxPartitions, partitions)
			}
			if cmd.Flags().Changed("partitions") && members == 0 {
				return Usagef("--partitions needs --members N (a group of competing consumers)")
			}
			def := subscriptions.Subscription{Name: name, Categories: cats, Types: typs, BatchSize: batch}
			if members > 0 {
				def.Partitions = partitions
			}
			if err := parseStartFlag(from, &def); err != nil {
				return err
			}
			return g.runSubscribe(cmd.Context(), def, subscribeOutput{json: asJSON, count: count, members: max(members, 1)}, cmd.Flags().Changed("from"))
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "start", "where a NEW subscription starts: start, end, or a checkpoint TX:POS")
	f.StringArrayVar(&categories, "category", nil, "only events of this stream category (repeatable, or comma-separated)")
	f.StringArrayVar(&types, "type", nil, "only events of this type (repeatable, or comma-separated)")
	f.BoolVar(&asJSON, "json", false, "NDJSON: one object per event (as read --all --json)")
	f.IntVar(&count, "count", 0, "stop after this many events, checkpointed exactly after the last (default 0: run until stopped)")
	f.IntVar(&batch, "batch", 100, "events per checkpoint write (a crash redelivers at most this many)")
	f.IntVar(&members, "members", 0, "run N members of the group NAME (competing consumers; default 0: one holder for the whole subscription)")
	f.IntVar(&partitions, "partitions", 16, "with --members: the group's partition count, fixed when it is created")
	return cmd
}

// parseStartFlag sets where a NEW subscription starts from a --from flag:
// start, end or a checkpoint TX:POS.
func parseStartFlag(from string, def *subscriptions.Subscription) error {
	switch f := strings.TrimSpace(from); strings.ToLower(f) {
	case "start", "beginning", "":
	case "end":
		def.StartAtEnd = true
	default:
		cp, err := store.ParseCheckpoint(f)
		if err != nil {
			return Usagef("--from must be start, end or a checkpoint TX:POS (e.g. 7731:120455), got %q", from)
		}
		def.Start = cp
	}
	return nil
}

type subscribeOutput struct {
	json    bool
	count   int
	members int // runners to run (1 unless --members)
}

// errStdoutClosed ends a subscriber whose reader went away.
var errStdoutClosed = errors.New("stdout closed")

// runSubscribe runs one subscription whose handler writes each event to
// g.out, until ctx ends, stdout is closed, or out.count events were written.
func (g *globals) runSubscribe(ctx context.Context, def subscriptions.Subscription, out subscribeOutput, fromGiven bool) error {
	// With SIGPIPE notified, a write to a closed stdout returns EPIPE instead
	// of killing the process, so the checkpoint of what was written is saved.
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	defer signal.Stop(pipe)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	st, rd, closeStores, err := g.openStores(ctx)
	if err != nil {
		return err
	}
	defer closeStores()
	if fromGiven {
		if s, err := subscriptions.NewAdmin(st).Get(ctx, def.Name); err == nil {
			fmt.Fprintf(g.errw, "eventscope: subscription %s exists: resuming from its checkpoint %s (--from applies to new subscriptions; \"subs reset\" moves it)\n",
				def.Name, s.Checkpoint)
		}
	}
	var (
		mu      sync.Mutex
		written int
		buf     bytes.Buffer
		enc     = newJSONEncoder(&buf)
	)
	// With --count the subscription's own batch must end at the count, so
	// that the checkpoint stops exactly after the last event written.
	def.Handler = func(hctx context.Context, e store.Event) error {
		mu.Lock()
		defer mu.Unlock()
		if out.count > 0 && written >= out.count {
			<-hctx.Done() // stopping: the event is not handled
			return hctx.Err()
		}
		buf.Reset()
		if out.json {
			if err := enc.Encode(e); err != nil {
				return err // cannot happen for a stored event; retried, then parked
			}
		} else {
			buf.WriteString(tailLine(e))
			buf.WriteByte('\n')
		}
		if _, err := g.out.Write(buf.Bytes()); err != nil {
			if errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrClosed) {
				cancel(errStdoutClosed)
			} else {
				cancel(fmt.Errorf("write to stdout: %w", err))
			}
			<-hctx.Done()
			return hctx.Err() // not handled: aborted, redelivered next time
		}
		written++
		if out.count > 0 && written >= out.count {
			cancel(nil) // the runner saves the checkpoint of this event on shutdown
		}
		return nil
	}
	go watchStdoutClosed(ctx, g.out, func() { cancel(errStdoutClosed) })
	runners := make([]*subscriptions.Runner, max(out.members, 1))
	for i := range runners {
		runners[i] = subscriptions.NewRunner(st, subscriptions.RunnerOptions{
			ReadStore: standbyPrimaryRead(st, rd),
			Logf: func(f string, a ...any) {
				fmt.Fprintf(g.errw, "%s eventscope: "+f+"\n", append([]any{time.Now().Format("15:04:05.000")}, a...)...)
			},
		})
		if err := runners[i].Add(def); err != nil {
			return err
		}
	}
	errs := make(chan error, len(runners))
	for _, r := range runners {
		go func() { errs <- r.Run(ctx) }()
	}
	var runErr error
	for range runners {
		if err := <-errs; err != nil && runErr == nil {
			runErr = err
		}
	}
	if runErr != nil {
		return runErr
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, errStdoutClosed) && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return nil
}

// watchStdoutClosed ends an idle subscriber whose stdout is a pipe when its
// reader goes away (poll reports POLLERR on the write end), so
// "subscribe NAME | head -n 3" ends with head even when no further event
// comes to fail a write. It returns when ctx ends.
func watchStdoutClosed(ctx context.Context, w io.Writer, closed func()) {
	f, ok := w.(*os.File)
	if !ok {
		return
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return
	}
	fds := []unix.PollFd{{Fd: int32(f.Fd())}} // no events asked: POLLERR and POLLHUP are always reported
	for ctx.Err() == nil {
		n, err := unix.Poll(fds, 250)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		if n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
			closed()
			return
		}
	}
}
