// Package action is the console's one door to admin actions (pause,
// resume, reset, retry, retry all, skip, forget a subject). Read-only mode is enforced here,
// not per view: every action method checks it, and views ask Denied before
// opening a dialog so a disabled key says why at once.
package action

import (
	"context"
	"errors"
	"fmt"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/google/uuid"

	"eventscope/subscriptions"
	"eventscope/tui/common"
)

// ResetTarget is a reset's destination: the subscriptions package's own
// type (its Kind is subscriptions.ResetStart, ResetEnd, ...), so there is
// one definition of where a reset can go.
type ResetTarget = subscriptions.ResetTarget

// Admin is what the actions need of the subscriptions admin.
type Admin interface {
	Pause(ctx context.Context, name string) error
	Resume(ctx context.Context, name string) error
	Reset(ctx context.Context, name string, to ResetTarget) error
	Retry(ctx context.Context, name string, eventID uuid.UUID) error
	RetryAll(ctx context.Context, name string) (int, error)
	Skip(ctx context.Context, name string, eventID uuid.UUID) error
	Get(ctx context.Context, name string) (common.SubStatus, error)
	// ReplayCount is how many events a reset to the start delivers
	// again (atMost: fewer, the subscription filters by type too).
	ReplayCount(ctx context.Context, name string) (n int64, atMost bool, err error)
}

// AtScale is the number of events (or parked events) from which replaying
// or discarding asks for the subscription's name to be typed, as moving it
// forward does, instead of y/N.
const AtScale = 1000

// DoneMsg reports an action's outcome. Status is the subscription's fresh
// status after a successful action (so the effect shows at once).
type DoneMsg struct {
	Op     string
	Name   string
	Text   string
	Err    error
	Status *common.SubStatus
}

// ErrReadOnly is the reason every action fails in read-only mode.
var ErrReadOnly = errors.New("the console was started with --read-only")

// Forgetter erases a subject's personal data (domain.Forget on the
// primary) and describes what it did.
type Forgetter interface {
	Forget(ctx context.Context, subject string) (string, error)
}

// Actions runs admin actions as commands.
type Actions struct {
	ctx      context.Context
	admin    Admin
	forget   Forgetter
	readOnly bool
	reason   string // why read-only, when not --read-only (the role's privileges)
	timeout  time.Duration
}

// SetForgetter enables Forget (nil: forget is unavailable).
func (a *Actions) SetForgetter(f Forgetter) { a.forget = f }

// DeniedForget is Denied for Forget.
func (a *Actions) DeniedForget() tea.Cmd {
	switch {
	case a == nil || a.forget == nil:
		return common.Status(common.Failure, "forget is unavailable: the console has no connection to the primary to erase on")
	case a.readOnly:
		return common.Status(common.Failure, "forget is disabled: %v", ErrReadOnly)
	}
	return nil
}

// Forget erases subject's personal data; the DoneMsg (Op "forget", Name
// the subject) tells views to read their events again.
func (a *Actions) Forget(subject string) tea.Cmd {
	if deny := a.DeniedForget(); deny != nil {
		return deny
	}
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(a.ctx, time.Minute)
		defer cancel()
		text, err := a.forget.Forget(ctx, subject)
		return DoneMsg{Op: "forget", Name: subject, Text: text, Err: err}
	}
}

// New makes the action layer. admin may be nil (no subscriptions: every
// action says so).
func New(ctx context.Context, admin Admin, readOnly bool) *Actions {
	return &Actions{ctx: ctx, admin: admin, readOnly: readOnly, timeout: 10 * time.Second}
}

// SetReason says why the console is read-only when it was not started
// with --read-only: the connected role may not administer (e.g. "role app
// is not an eventscope_admin"). It is what Denied tells the user.
func (a *Actions) SetReason(why string) {
	if a != nil {
		a.reason = why
	}
}

// ReadOnly reports read-only mode.
func (a *Actions) ReadOnly() bool { return a != nil && a.readOnly }

// Denied returns a command that explains why op is unavailable, or nil
// when it is allowed.
func (a *Actions) Denied(op string) tea.Cmd {
	switch {
	case a == nil || a.admin == nil:
		return common.Status(common.Failure, "%s is unavailable: no subscriptions admin", op)
	case a.readOnly && a.reason != "":
		return common.Status(common.Failure, "%s is disabled: %s", op, a.reason)
	case a.readOnly:
		return common.Status(common.Failure, "%s is disabled: %v", op, ErrReadOnly)
	}
	return nil
}

func (a *Actions) run(op, name string, fn func(ctx context.Context) (string, error)) tea.Cmd {
	if deny := a.Denied(op); deny != nil {
		return deny
	}
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(a.ctx, a.timeout)
		defer cancel()
		text, err := fn(ctx)
		msg := DoneMsg{Op: op, Name: name, Text: text, Err: err}
		if err == nil {
			if st, gerr := a.admin.Get(ctx, name); gerr == nil {
				msg.Status = &st
			}
		}
		return msg
	}
}

// Pause pauses a subscription.
func (a *Actions) Pause(name string) tea.Cmd {
	return a.run("pause", name, func(ctx context.Context) (string, error) {
		return "paused " + name, a.admin.Pause(ctx, name)
	})
}

// Resume resumes a subscription.
func (a *Actions) Resume(name string) tea.Cmd {
	return a.run("resume", name, func(ctx context.Context) (string, error) {
		return "resumed " + name, a.admin.Resume(ctx, name)
	})
}

// PauseResume resumes a paused subscription and pauses any other.
func (a *Actions) PauseResume(name string, state subscriptions.State) tea.Cmd {
	if state == subscriptions.StatePaused {
		return a.Resume(name)
	}
	return a.Pause(name)
}

// Reset moves a subscription's checkpoint.
func (a *Actions) Reset(name string, to ResetTarget) tea.Cmd {
	return a.run("reset", name, func(ctx context.Context) (string, error) {
		return fmt.Sprintf("reset %s to %s", name, to.Describe()), a.admin.Reset(ctx, name, to)
	})
}

// ConfirmResetStart asks to confirm a reset to the start, saying how many
// events it delivers again; from AtScale on the name must be typed.
func (a *Actions) ConfirmResetStart(name string) tea.Cmd {
	if deny := a.Denied("reset"); deny != nil {
		return deny
	}
	run := a.Reset(name, ResetTarget{Kind: subscriptions.ResetStart})
	ctx, admin, timeout := a.ctx, a.admin, a.timeout
	return func() tea.Msg {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		n, atMost, err := admin.ReplayCount(cctx, name)
		if err != nil {
			return common.ErrorMsg{Op: "count what a reset of " + name + " replays", Err: err}
		}
		scope := "about"
		if atMost {
			scope = "at most"
		}
		prompt := fmt.Sprintf("Move %s to the start of the log? %s %s events it has processed are delivered to its handler again.", name, scope, common.Count(n))
		typed := ""
		if n >= AtScale {
			typed = name
		}
		return common.ConfirmMsg{Title: "Reset " + name + " to the start", Prompt: prompt, Typed: typed, Action: run}
	}
}

// Retry retries one parked event.
func (a *Actions) Retry(name string, id uuid.UUID) tea.Cmd {
	return a.run("retry", name, func(ctx context.Context) (string, error) {
		return fmt.Sprintf("queued parked event %s of %s for retry", short(id), name), a.admin.Retry(ctx, name, id)
	})
}

// RetryAll retries every parked event.
func (a *Actions) RetryAll(name string) tea.Cmd {
	return a.run("retry all", name, func(ctx context.Context) (string, error) {
		n, err := a.admin.RetryAll(ctx, name)
		return fmt.Sprintf("queued %d parked events of %s for retry", n, name), err
	})
}

// Skip discards one parked event.
func (a *Actions) Skip(name string, id uuid.UUID) tea.Cmd {
	return a.run("skip", name, func(ctx context.Context) (string, error) {
		return fmt.Sprintf("skipped parked event %s of %s", short(id), name), a.admin.Skip(ctx, name, id)
	})
}

func short(id uuid.UUID) string { return id.String()[:8] }
