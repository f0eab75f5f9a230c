package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"golang.org/x/term"
)

// ErrHelp is returned by Parse after it printed the usage for -h/--help or
// the version for --version: the program stops with status 0.
var ErrHelp error = &ExitError{Code: ExitOK}

// NewFlagSet returns a flag set that neither prints nor exits: Parse reports.
func NewFlagSet(prog string) *flag.FlagSet {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// Version is set at link time with -ldflags "-X github.com/backfill/backfill/lib/cli.Version=v1.2.3".
var Version = ""

// VersionString is the program version: the link-time Version, else the
// module version and VCS revision recorded in the binary.
func VersionString() string {
	if Version != "" {
		return Version
	}
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " " + s.Value[:12]
			}
		}
	}
	return v
}

// Parse parses args with fs, allowing flags and positional arguments to be
// interleaved ("--" ends the flags). On -h/--help it prints usage to stdout
// and returns ErrHelp; on --version it prints the version. A parse error is a
// *UsageError naming the flag.
func Parse(fs *flag.FlagSet, env Env, usage string) ([]string, error) {
	var showVersion bool
	if fs.Lookup("version") == nil {
		fs.BoolVar(&showVersion, "version", false, "print the version and exit")
	}
	args := env.Args
	var pos []string
	for {
		before := args
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(env.Stdout, usage)
				return nil, ErrHelp
			}
			return nil, &UsageError{Msg: err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		// fs.Parse stops at "--" (consumed) or at the first non-flag.
		if n := len(before) - len(args); n > 0 && before[n-1] == "--" {
			pos = append(pos, args...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if showVersion {
		fmt.Fprintf(env.Stdout, "%s %s\n", fs.Name(), VersionString())
		return nil, ErrHelp
	}
	return pos, nil
}

// List is a comma-separated list flag value (--tables a,b). Repeating the
// flag appends.
type List []string

func (l *List) String() string { return strings.Join(*l, ",") }

// Set splits s on commas, dropping empty items.
func (l *List) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// Choice is a flag value restricted to a fixed set of words (--mode full|delta).
type Choice struct {
	Value   string
	Allowed []string
}

func (c *Choice) String() string { return c.Value }

// Set accepts only one of the allowed words.
func (c *Choice) Set(s string) error {
	for _, a := range c.Allowed {
		if s == a {
			c.Value = s
			return nil
		}
	}
	return fmt.Errorf("must be one of %s", strings.Join(c.Allowed, ", "))
}

// IsTerminal reports whether w is a terminal. /dev/null is not one, although
// it is a character device.
func IsTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	return term.IsTerminal(int(f.Fd()))
}
