package bfinit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// errNoAnswer is returned when standard input ends before a question was
// answered.
var errNoAnswer = errors.New("no answer: standard input ended")

// prompter asks questions on standard error and reads the answers from
// standard input, one line each.
type prompter struct {
	prog string
	in   *bufio.Reader
	out  io.Writer
	fd   int // standard input's descriptor when it is a terminal, else -1
}

func newPrompter(prog string, stdin io.Reader, stderr io.Writer) *prompter {
	p := &prompter{prog: prog, in: bufio.NewReader(stdin), out: stderr, fd: -1}
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.fd = int(f.Fd())
	}
	return p
}

func (p *prompter) line() (string, error) {
	s, err := p.in.ReadString('\n')
	if err != nil && (s == "" || !errors.Is(err, io.EOF)) {
		if errors.Is(err, io.EOF) {
			return "", errNoAnswer
		}
		return "", err
	}
	return strings.TrimSpace(strings.TrimSuffix(s, "\x04")), nil
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
		fmt.Fprintln(p.out)
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
			fmt.Fprintln(p.out)
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
		b, err := term.ReadPassword(p.fd)
		fmt.Fprintln(p.out)
		if errors.Is(err, io.EOF) && len(b) == 0 {
			return "", errNoAnswer
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		return strings.TrimSpace(strings.TrimSuffix(string(b), "\x04")), nil
	}
	s, err := p.line()
	if err != nil {
		fmt.Fprintln(p.out)
	}
	return s, err
}
