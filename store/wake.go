package store

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// waker sends coalesced wake-up NOTIFYs after appends commit.
//
// NOTIFY inside an append's transaction takes a database-wide lock from
// pre-commit until the commit ends, which serialises every notifying commit
// (measured: 16 writers drop to about half the throughput). Instead the
// Store NOTIFYs from one goroutine, after the append committed: at most one
// NOTIFY in flight per process, at most one per interval, carrying the
// categories that got events since the last one.
type waker struct {
	pool     *pgxpool.Pool
	interval time.Duration

	closeOnce sync.Once
	mu        sync.Mutex
	pending   map[string]struct{}
	dirty     bool
	signal    chan struct{}
	done      chan struct{}
	stopped   chan struct{}
}

func newWaker(pool *pgxpool.Pool, interval time.Duration) *waker {
	w := &waker{
		pool: pool, interval: interval,
		pending: map[string]struct{}{},
		signal:  make(chan struct{}, 1),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go w.loop()
	return w
}

func (w *waker) kick(categories ...string) {
	w.mu.Lock()
	for _, c := range categories {
		w.pending[c] = struct{}{}
	}
	w.dirty = true
	w.mu.Unlock()
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

func (w *waker) take() (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.dirty {
		return "", false
	}
	cats := make([]string, 0, len(w.pending))
	size := 0
	for c := range w.pending {
		cats = append(cats, c)
		size += len(c) + 1
	}
	clear(w.pending)
	w.dirty = false
	// An empty payload wakes everyone: when the list would near NOTIFY's
	// 8 KB cap, or when a category holds the separator.
	if size > 4000 || slices.ContainsFunc(cats, func(c string) bool { return strings.Contains(c, ",") }) {
		return "", true
	}
	sort.Strings(cats)
	return strings.Join(cats, ","), true
}

func (w *waker) loop() {
	defer close(w.stopped)
	var last time.Time
	for {
		select {
		case <-w.signal:
		case <-w.done:
			if payload, ok := w.take(); ok {
				w.send(payload)
			}
			return
		}
		if wait := w.interval - time.Since(last); wait > 0 {
			select {
			case <-time.After(wait):
			case <-w.done:
			}
		}
		payload, ok := w.take()
		if !ok {
			continue
		}
		last = time.Now()
		w.send(payload)
	}
}

func (w *waker) send(payload string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// A lost wake-up only delays delivery until the subscribers' poll.
	_, _ = w.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, NotifyChannel, payload)
}

func (w *waker) close() {
	w.closeOnce.Do(func() { close(w.done) })
	<-w.stopped
}
