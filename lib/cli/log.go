package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
)

// Logger writes prefixed diagnostic lines ("bf-dump: warning: ...") to
// stderr. It is safe for concurrent use: lines never interleave.
type Logger struct {
	Prog    string
	W       io.Writer
	Quiet   bool // only errors and warnings
	Verbose bool // also Debugf

	mu sync.Mutex
}

// NewLogger returns a logger for prog writing to env.Stderr.
func NewLogger(prog string, env Env) *Logger { return &Logger{Prog: prog, W: env.Stderr} }

func (l *Logger) line(level, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range strings.Split(strings.TrimRight(msg, "\n"), "\n") {
		if level == "" {
			fmt.Fprintf(l.W, "%s: %s\n", l.Prog, s)
		} else {
			fmt.Fprintf(l.W, "%s: %s: %s\n", l.Prog, level, s)
		}
	}
}

// Printf writes an informational line unless Quiet.
func (l *Logger) Printf(format string, args ...any) {
	if !l.Quiet {
		l.line("", format, args...)
	}
}

// Warnf writes a warning line; warnings show even when Quiet.
func (l *Logger) Warnf(format string, args ...any) { l.line("warning", format, args...) }

// Hintf writes a hint line unless Quiet.
func (l *Logger) Hintf(format string, args ...any) {
	if !l.Quiet {
		l.line("hint", format, args...)
	}
}

// Debugf writes a detail line only when Verbose.
func (l *Logger) Debugf(format string, args ...any) {
	if l.Verbose {
		l.line("", format, args...)
	}
}
