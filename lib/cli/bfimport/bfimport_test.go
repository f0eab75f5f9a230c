package bfimport

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/backfill/backfill/lib/cli"
)

// TestRun_Usage: usage errors are found before the configuration, the
// guard or the database (exit status 2, no database needed).
func TestRun_Usage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"two stdin streams", []string{"-", "-"}, "standard input can be read only once"},
		{"manifest and stream on stdin", []string{"--manifest", "-"}, "standard input can be read only once"},
		{"bad mode", []string{"--mode", "x", "f"}, `invalid value "x" for flag -mode`},
		{"negative jobs", []string{"-j", "-2", "f"}, "-j -2"},
		{"unknown flag", []string{"--nope"}, "flag provided but not defined: -nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			env := cli.Env{Args: tt.args, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
				Getenv: func(string) string { return "" }}
			err := Run(t.Context(), env)
			var ue *cli.UsageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run(%q) = %v, want a usage error containing %q", tt.args, err, tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}
