// Package cli holds the plumbing every backfill program shares: the injectable
// environment, the run wrapper that installs signal handling and maps errors to
// exit codes, flag parsing with interleaved positionals, and the stderr logger.
//
// Exit codes are a contract (DESIGN.md principle 6):
//
//	0   success
//	1   failure while doing the work
//	2   usage or configuration error: nothing was attempted
//	130 interrupted by SIGINT or SIGTERM; nothing half-done was kept
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/backfill/backfill/lib/internal/hint"
)

// Exit codes shared by every tool.
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitUsage       = 2
	ExitInterrupted = 130
)

// Env is everything a program may touch. Tests inject buffers and a fake
// Getenv; OS returns the real process environment.
type Env struct {
	Args   []string // without the program name
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// OS returns the environment of the running process.
func OS() Env {
	return Env{Args: os.Args[1:], Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}

// UsageError is a misuse of the command line: exit status 2.
type UsageError struct {
	Msg   string
	Hints []string
}

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a *UsageError with a formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// ConfigError marks an error as a configuration problem (exit status 2)
// while keeping its text. config.Error implements it.
type ConfigError interface {
	error
	ConfigError()
}

// WithHint attaches hints ("what to do next") to err. Nil stays nil.
func WithHint(err error, hints ...string) error {
	return hint.Wrap(err, hints...)
}

// Hints collects every hint attached anywhere in err's chain, outermost first.
func Hints(err error) []string {
	var out []string
	for err != nil {
		switch e := err.(type) {
		case *UsageError:
			out = append(out, e.Hints...)
		case interface{ Hints() []string }:
			out = append(out, e.Hints()...)
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				out = append(out, Hints(x)...)
			}
			break
		}
		err = errors.Unwrap(err)
	}
	return out
}

// ErrSilent is returned by a program that already printed what it had to say
// and only needs exit status 1 (bf-schemadiff's "differences found").
var ErrSilent = errors.New("silent failure")

// ExitError carries an explicit exit status without a message.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// ErrInterrupted is the cause of the run context when a signal arrived.
var ErrInterrupted = errors.New("interrupted")

// Run installs the signal context, calls run, prints the error and its hints
// on stderr prefixed with prog, and maps the error to an exit code. A second
// signal kills the process the default way.
func Run(prog string, env Env, run func(ctx context.Context, env Env) error) int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case s := <-sigs:
			cancel(fmt.Errorf("%w by %s", ErrInterrupted, signalName(s)))
			// A second signal ends the process at once.
			signal.Reset(os.Interrupt, syscall.SIGTERM)
		case <-done:
		}
	}()
	defer signal.Stop(sigs)

	err := run(ctx, env)
	return report(prog, env.Stderr, ctx, err)
}

// signalName names the signals Run handles the way a user knows them.
func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT (Ctrl-C)"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// ExitCode is the exit status an error returned by a program's run maps
// to: 0 for nil, 2 for a *UsageError or a ConfigError, 130 for an
// interruption, an *ExitError's own code, 1 for everything else. Run adds
// one case: any failure after a signal arrived is 130.
func ExitCode(err error) int {
	var ee *ExitError
	var ue *UsageError
	var ce ConfigError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrSilent):
		return ExitFailure
	case errors.As(err, &ee):
		return ee.Code
	case errors.As(err, &ue), errors.As(err, &ce):
		return ExitUsage
	case errors.Is(err, ErrInterrupted):
		return ExitInterrupted
	}
	return ExitFailure
}

// Outcome is how a run ended: its exit status and what to say about it.
type Outcome struct {
	Code  int
	Msg   string   // the error, "" when there is nothing to say
	Hints []string // what to do about it
	// Usage is set for a usage error: the --help hint belongs after it.
	Usage bool
}

// Describe is the outcome of a run that returned err with ctx its context:
// the exit status of [ExitCode], 130 for any failure after a signal, and
// the message Run prints ("" for ErrSilent and an *ExitError, which were
// reported already).
func Describe(ctx context.Context, err error) Outcome {
	interrupted := errors.Is(context.Cause(ctx), ErrInterrupted)
	var ee *ExitError
	switch {
	case err == nil && interrupted:
		return Outcome{Code: ExitInterrupted}
	case err == nil:
		return Outcome{Code: ExitOK}
	case errors.Is(err, ErrSilent):
		return Outcome{Code: ExitFailure}
	case errors.As(err, &ee):
		return Outcome{Code: ee.Code}
	}
	o := Outcome{Code: ExitCode(err), Msg: err.Error(), Hints: Hints(err)}
	if o.Code == ExitFailure && interrupted {
		o.Code = ExitInterrupted
	}
	// A step that stopped on the cancelled context says why: the signal,
	// not "context canceled".
	if interrupted && errors.Is(err, context.Canceled) && strings.HasSuffix(o.Msg, context.Canceled.Error()) {
		o.Msg = strings.TrimSuffix(o.Msg, context.Canceled.Error()) + context.Cause(ctx).Error()
	}
	if o.Code == ExitInterrupted && !strings.Contains(o.Msg, "interrupted") {
		o.Msg = "interrupted: " + o.Msg
	}
	var ue *UsageError
	o.Usage = errors.As(err, &ue) && o.Code == ExitUsage
	return o
}

func report(prog string, stderr io.Writer, ctx context.Context, err error) int {
	o := Describe(ctx, err)
	if o.Msg == "" {
		return o.Code
	}
	for _, line := range strings.Split(o.Msg, "\n") {
		fmt.Fprintf(stderr, "%s: error: %s\n", prog, line)
	}
	for _, h := range o.Hints {
		fmt.Fprintf(stderr, "%s: hint: %s\n", prog, h)
	}
	if o.Usage {
		fmt.Fprintf(stderr, "%s: hint: run '%s --help' for usage\n", prog, prog)
	}
	return o.Code
}
