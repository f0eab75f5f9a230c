package bfinit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/backfill/backfill/lib/cli"
)

// errNoAnswer is returned when standard input ends before a question was
// answered: like a missing flag, a usage error.
var errNoAnswer = &cli.UsageError{Msg: "no answer: standard input ended before every question was answered"}

// prompter asks questions on standard error and reads the answers from
// standard input, one line each. A read gives up when ctx is done (the
// first Ctrl-C), so an interrupted session ends at once and restores the
// terminal.
type prompter struct {
	ctx  context.Context
	prog string
	in   *bufio.Reader
	out  io.Writer
	fd   int // standard input's descriptor when it is a terminal, else -1
}

func newPrompter(ctx context.Context, prog string, stdin io.Reader, stderr io.Writer) *prompter {
	p := &prompter{ctx: ctx, prog: prog, in: bufio.NewReader(stdin), out: stderr, fd: -1}
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.fd = int(f.Fd())
	}
	return p
}

// line reads one answer. On a terminal in canonical mode every read returns
// at most one line, so the buffered reader never swallows the next answer;
// Ctrl-D on an empty line is the end of input.
func (p *prompter) line() (string, error) {
	type result struct {
		s   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := p.in.ReadString('\n')
		ch <- result{s, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-p.ctx.Done():
		fmt.Fprintln(p.out)
		return "", context.Cause(p.ctx)
	}
	if r.err != nil && (r.s == "" || !errors.Is(r.err, io.EOF)) {
		fmt.Fprintln(p.out)
		if errors.Is(r.err, io.EOF) {
			return "", errNoAnswer
		}
		return "", r.err
	}
	return strings.TrimSpace(r.s), nil
}

// ask prints "prog: question [def]: " and returns the answer, or def for an
// empty one.
func (p *prompter) ask(question, def string) (string, error) {
	if def != "" {
		fmt.Fprintf(p.out, "%s: %s [%s]: ", p.prog, question, def)
	} else {
		fmt.Fprintf(p.out, "%s: %s: ", p.prog, question)
	}
	s, err := p.line()
	if err != nil {
		return "", err
	}
	if s == "" {
		return def, nil
	}
	return s, nil
}

// yesNo asks a yes/no question; an empty answer is def.
func (p *prompter) yesNo(question string, def bool) (bool, error) {
	hint := "y/N"
	if def {
		hint = "Y/n"
	}
	for i := 0; i < 3; i++ {
		fmt.Fprintf(p.out, "%s: %s [%s] ", p.prog, question, hint)
		s, err := p.line()
		if err != nil {
			return false, err
		}
		switch strings.ToLower(s) {
		case "":
			return def, nil
		case "y", "yes":
			return true, nil
		case "n", "no":
			return false, nil
		}
		fmt.Fprintf(p.out, "%s: please answer y or n\n", p.prog)
	}
	return false, fmt.Errorf("no valid answer to %q", question)
}

// secret asks for a value without echoing it when standard input is a
// terminal.
func (p *prompter) secret(question string) (string, error) {
	fmt.Fprintf(p.out, "%s: %s: ", p.prog, question)
	if p.fd >= 0 && p.in.Buffered() == 0 {
		if restore, err := noEcho(p.fd); err == nil {
			defer fmt.Fprintln(p.out) // the Enter the terminal did not echo
			defer restore()
		}
	}
	return p.line()
}
