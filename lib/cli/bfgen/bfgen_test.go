package bfgen_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/backfill/backfill/lib/cli"
	"github.com/backfill/backfill/lib/cli/bfgen"
	"github.com/backfill/backfill/lib/testdb"
)

// run runs bf-gen in-process with args and env, returning the exit status
// and both outputs.
func run(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := cli.Env{Args: args, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] }}
	code = cli.Run("bf-gen", e, bfgen.Run)
	return code, out.String(), errb.String()
}

func TestRun_Usage(t *testing.T) {
	for _, tt := range []struct {
		name   string
		args   []string
		env    map[string]string
		code   int
		stderr string // a substring; "" means stderr must be empty
		stdout string
	}{
		{name: "help", args: []string{"--help"}, code: 0, stdout: "Usage:\n    bf-gen [--dsn DSN]"},
		{name: "bad flag", args: []string{"--bogus"}, code: 2, stderr: "bf-gen: error: flag provided but not defined: -bogus"},
		{name: "argument", args: []string{"users"}, code: 2, stderr: `unexpected argument "users"`},
		{name: "scale too big", args: []string{"--scale", "11", "--dsn", "root@tcp(127.0.0.1:3306)/x"}, code: 2, stderr: "--scale: scale 11 is out of range: use 0.001 to 10"},
		{name: "scale too small", args: []string{"--scale", "0.0001"}, code: 2, stderr: "out of range"},
		{name: "scale not a number", args: []string{"--scale", "big"}, code: 2, stderr: `invalid value "big" for flag -scale`},
		{name: "no DSN", args: nil, code: 2, stderr: "bf-gen: hint: pass --dsn or set BACKFILL_SOURCE_DSN"},
		{name: "DSN without database", args: []string{"--dsn", "root:pw@tcp(127.0.0.1:3306)/"}, code: 2, stderr: "names no database"},
		{name: "touch zero", args: []string{"--touch", "0"}, code: 2, stderr: "--touch 0: the number of rows must be at least 1"},
		{name: "touch with drop", args: []string{"--touch", "3", "--drop"}, code: 2, stderr: "--touch cannot be combined with --drop"},
		{name: "touch with scale", args: []string{"--touch", "3", "--scale", "1"}, code: 2, stderr: "--touch cannot be combined with --scale"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tt.env, tt.args...)
			if code != tt.code {
				t.Errorf("exit status %d, want %d\nstderr:\n%s", code, tt.code, stderr)
			}
			if tt.stdout == "" && stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if !strings.Contains(stdout, tt.stdout) {
				t.Errorf("stdout does not contain %q:\n%s", tt.stdout, stdout)
			}
			if tt.stderr == "" && stderr != "" {
				t.Errorf("stderr = %q, want nothing", stderr)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr does not contain %q:\n%s", tt.stderr, stderr)
			}
			for _, line := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
				if line != "" && !strings.HasPrefix(line, "bf-gen: ") {
					t.Errorf("stderr line without the program prefix: %q", line)
				}
			}
		})
	}
}

func TestRun_UnreachableServerHidesPassword(t *testing.T) {
	code, stdout, stderr := run(t, map[string]string{"BACKFILL_SOURCE_DSN": "app:s3cret-pw@tcp(127.0.0.1:1)/shop?timeout=2s"})
	if code != 1 {
		t.Errorf("exit status %d, want 1\n%s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing", stdout)
	}
	if !strings.Contains(stderr, "bf-gen: hint: is the database server running") {
		t.Errorf("no hint in stderr:\n%s", stderr)
	}
	if strings.Contains(stderr, "s3cret-pw") {
		t.Errorf("stderr shows the password:\n%s", stderr)
	}
}

func TestRun_Generate(t *testing.T) {
	d := testdb.New(t)
	env := map[string]string{"BACKFILL_SOURCE_DSN": d.DSN()}

	code, stdout, stderr := run(t, env, "--scale", "0.001", "--seed", "3")
	if code != 0 {
		t.Fatalf("exit status %d\n%s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing", stdout)
	}
	for _, want := range []string{"bf-gen: users ", "bf-gen: activity_log ", "1000 rows", "(scale 0.001, seed 3)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("summary does not contain %q:\n%s", want, stderr)
		}
	}
	var users int
	if err := d.DB.QueryRow("SELECT COUNT(*) FROM users").Scan(&users); err != nil || users != 20 {
		t.Errorf("users: %d rows (err %v), want 20", users, err)
	}

	// Again without --drop: refused, nothing changed, a hint to --drop.
	code, _, stderr = run(t, env, "--scale", "0.001")
	if code != 1 || !strings.Contains(stderr, `bf-gen: error: fixture: table "activity_log" already exists in database "`+d.Name+`"`) ||
		!strings.Contains(stderr, "bf-gen: hint: add --drop") {
		t.Errorf("second run: exit status %d, want 1 with a --drop hint\n%s", code, stderr)
	}

	// --drop --schema-only -q: empty tables, silence.
	code, stdout, stderr = run(t, env, "--drop", "--schema-only", "-q")
	if code != 0 || stdout != "" || stderr != "" {
		t.Errorf("--drop --schema-only -q: exit status %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if err := d.DB.QueryRow("SELECT COUNT(*) FROM users").Scan(&users); err != nil || users != 0 {
		t.Errorf("users after --schema-only: %d rows (err %v), want 0", users, err)
	}

	// --touch on the empty fixture still adds rows; the DSN flag beats the environment.
	code, _, stderr = run(t, map[string]string{"BACKFILL_SOURCE_DSN": "x:y@tcp(127.0.0.1:1)/nope"}, "--dsn", d.DSN(), "--touch", "10")
	if code != 0 || !strings.Contains(stderr, "touched 10 rows") {
		t.Errorf("--touch: exit status %d\n%s", code, stderr)
	}
	if err := d.DB.QueryRow("SELECT COUNT(*) FROM users").Scan(&users); err != nil || users != 1 {
		t.Errorf("users after --touch 10: %d rows (err %v), want 1", users, err)
	}
}

func TestRun_TouchWithoutFixture(t *testing.T) {
	d := testdb.New(t)
	code, _, stderr := run(t, map[string]string{"BACKFILL_SOURCE_DSN": d.DSN()}, "--touch", "5")
	if code != 1 || !strings.Contains(stderr, "bf-gen: hint: --touch needs a generated fixture") {
		t.Errorf("exit status %d, want 1 with a hint\n%s", code, stderr)
	}
}
