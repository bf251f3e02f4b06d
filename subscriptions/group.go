package subscriptions

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"eventscope/store"
)

// Competing consumers.
//
// A subscription with Partitions > 0 is a group: its streams are split over
// a fixed number of partitions by a hash of the stream id (PartitionOf), and
// the partitions are shared between the group's live members, the Runners
// that run it. Each partition is a row of its own (named GROUP#K) with its
// own checkpoint, lease (an advisory lock on the member's lease connection)
// and lease epoch: it is delivered exactly as a plain subscription is, one
// holder at a time, in order, fenced. Only the events of its streams reach
// its handler; it scans past the others.
//
// Membership: every lease round (each second) a member records itself in
// eventscope.subscription_members with its lease connection's backend, and
// reads the live members (those whose backend still exists). Sorted by
// instance id, member i of n owns the partitions k with k mod n = i. It
// releases, after flushing its checkpoint, the partitions it no longer
// owns, and takes the ones it owns as soon as their previous holder lets
// go. A member that stops leaves (its row is deleted); one that dies loses
// its backend at once (SIGKILL closes the socket) or after
// RunnerOptions.LeaseTimeout (a frozen process: the server ends its idle
// lease connection), and with it its membership and its leases. A partition
// therefore moves within about two lease rounds of a join, leave or death
// (plus LeaseTimeout for a frozen member); its new holder bumps the
// partition's lease epoch, which fences out any write of the old one.

// MaxPartitions bounds Subscription.Partitions.
const MaxPartitions = 1024

// groupSep separates a group's name from a partition's number in the
// partition rows' names (GROUP#K). Subscription names cannot contain it.
const groupSep = "#"

// PartitionOf is the partition of a stream in a group of n partitions:
// FNV-1a (32 bits) of the stream id, modulo n.
func PartitionOf(streamID string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(streamID))
	return int(h.Sum32() % uint32(n))
}

// partitionName is the row name of a group's partition.
func partitionName(group string, k int) string {
	return group + groupSep + strconv.Itoa(k)
}

// splitPartitionName splits a partition row's name (ok false for a plain
// subscription's).
func splitPartitionName(name string) (group string, k int, ok bool) {
	i := strings.LastIndex(name, groupSep)
	if i < 0 {
		return "", 0, false
	}
	k, err := strconv.Atoi(name[i+1:])
	if err != nil {
		return "", 0, false
	}
	return name[:i], k, true
}

// group is a Runner's membership of one subscription group.
type group struct {
	name       string
	partitions int
	parts      []*sub
	tgt        *target // control notifications for the group's name reach every partition
	pages      groupPages

	owned   atomic.Pointer[[]bool] // partitions this member owns now (nil: none yet)
	mu      sync.Mutex
	members []string // the live members as last read, sorted
	warned  string   // the last configuration problem logged
}

// owns reports whether this member owns partition k now.
func (g *group) owns(k int) bool {
	o := g.owned.Load()
	return o != nil && k < len(*o) && (*o)[k]
}

// assign computes which partitions this member (self) owns among members
// (sorted): k mod n = index of self. Not a member: none.
func assign(partitions int, members []string, self string) []bool {
	o := make([]bool, partitions)
	i := slices.Index(members, self)
	if i < 0 {
		return o
	}
	for k := range o {
		o[k] = k%len(members) == i
	}
	return o
}

func newGroup(r *Runner, s Subscription) *group {
	g := &group{name: s.Name, partitions: s.Partitions}
	for k := 0; k < s.Partitions; k++ {
		def := s
		def.Name = partitionName(s.Name, k)
		sb := newSub(r, def)
		sb.grp, sb.part = g, k
		sb.tgt.name = "" // the group's target takes the notifications
		g.parts = append(g.parts, sb)
	}
	g.tgt = &target{name: s.Name, control: func() {
		for _, sb := range g.parts {
			sb.in.ctrlPending.Store(true)
			sb.in.kick.send()
		}
	}}
	return g
}

// groupRound renews this runner's membership of every group it runs and
// recomputes the partitions it owns. It runs in each lease round, after the
// lease connection answered (backend is its pid).
func (r *Runner) groupRound(ctx context.Context, backend uint32) {
	r.mu.Lock()
	groups := append([]*group(nil), r.groups...)
	r.mu.Unlock()
	for _, g := range groups {
		if err := r.renewMembership(ctx, g, backend); err != nil && ctx.Err() == nil {
			r.logf("subscriptions: %s: membership: %v", g.name, err)
		}
	}
}

func (r *Runner) renewMembership(ctx context.Context, g *group, backend uint32) error {
	var stored int
	var plain bool
	if err := r.db.QueryRow(ctx, groupShapeSQL, g.name).Scan(&stored, &plain); err != nil {
		return err
	}
	problem := ""
	switch {
	case plain:
		problem = fmt.Sprintf("a plain subscription named %s exists: the group takes no partitions (delete one of them)", g.name)
	case stored != 0 && stored != g.partitions:
		problem = fmt.Sprintf("the group was created with %d partitions, this runner has %d: it takes no partitions (partitions are fixed; delete the group to change them)", stored, g.partitions)
	}
	if problem != "" {
		g.setOwned(make([]bool, g.partitions))
		if g.warned != problem {
			g.warned = problem
			r.logf("subscriptions: %s: %s", g.name, problem)
		}
		return nil
	}
	g.warned = ""
	if _, err := r.db.Exec(ctx, joinGroupSQL, g.name, r.o.Instance, r.host, r.pid, int64(backend)); err != nil {
		return err
	}
	rows, err := r.db.Query(ctx, liveMembersSQL, g.name)
	if err != nil {
		return err
	}
	members, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	if !slices.Contains(members, r.o.Instance) {
		members = append(members, r.o.Instance) // our own row is there: the backend is this round's
		slices.Sort(members)
	}
	g.mu.Lock()
	changed := !slices.Equal(g.members, members)
	g.members = members
	g.mu.Unlock()
	if changed {
		r.logf("subscriptions: %s: %d live members %v", g.name, len(members), members)
	}
	g.setOwned(assign(g.partitions, members, r.o.Instance))
	return nil
}

// setOwned records which partitions this member owns and wakes every
// partition whose ownership changed: one no longer owned hands its lease
// over; one owned again (perhaps activated while it was not, and idle
// since) delivers.
func (g *group) setOwned(o []bool) {
	old := g.owned.Swap(&o)
	for k, sb := range g.parts {
		if old == nil || (*old)[k] != o[k] {
			sb.in.kick.send()
		}
	}
}

// leaveGroups deletes this runner's member rows (its partitions are
// released already): the others take its partitions at their next round.
func (r *Runner) leaveGroups(ctx context.Context) {
	r.mu.Lock()
	groups := append([]*group(nil), r.groups...)
	r.mu.Unlock()
	for _, g := range groups {
		if _, err := r.db.Exec(ctx, leaveGroupSQL, g.name, r.o.Instance); err != nil {
			r.logf("subscriptions: %s: leaving the group: %v", g.name, err)
		}
	}
}

// groupPages shares the catch-up reads of a group's partitions in one
// runner: the partitions scan the same log with the same filter, and pages
// end where the scan ends whatever they keep, so partitions that resume
// from the same checkpoint (all of them, when a group starts or catches up
// together) read each page once instead of once per partition. A page
// being read is waited for; a failed read is not shared (each reader then
// reads for itself). At most groupPageSlots pages, and about 2×PageBytes,
// are kept.
type groupPages struct {
	mu    sync.Mutex
	pages []*groupPage // newest last
}

const groupPageSlots = 8

type groupPage struct {
	after store.Checkpoint
	done  chan struct{}
	page  store.Page
	bad   *unreadable
	full  bool
	err   error
	bytes int64
}

// read returns the page after `after`, read by read unless a page read
// from there is kept or being read.
func (gp *groupPages) read(after store.Checkpoint, budget int64, read func() (store.Page, *unreadable, bool, error)) (store.Page, *unreadable, bool, error) {
	gp.mu.Lock()
	for _, p := range gp.pages {
		if p.after == after {
			gp.mu.Unlock()
			<-p.done
			if p.err == nil {
				return p.page, p.bad, p.full, nil
			}
			return read()
		}
	}
	p := &groupPage{after: after, done: make(chan struct{})}
	gp.pages = append(gp.pages, p)
	gp.mu.Unlock()

	p.page, p.bad, p.full, p.err = read()
	for _, e := range p.page.Events {
		p.bytes += eventBytes(e)
	}
	close(p.done)

	gp.mu.Lock()
	defer gp.mu.Unlock()
	if p.err != nil {
		gp.pages = slices.DeleteFunc(gp.pages, func(x *groupPage) bool { return x == p })
	}
	var total int64
	keep := 0
	for i := len(gp.pages) - 1; i >= 0; i-- {
		q := gp.pages[i]
		select {
		case <-q.done:
		default:
			keep++ // in flight: kept while read
			continue
		}
		if keep >= groupPageSlots || total+q.bytes > budget {
			gp.pages = slices.Delete(gp.pages, i, i+1)
			continue
		}
		total += q.bytes
		keep++
	}
	return p.page, p.bad, p.full, p.err
}
