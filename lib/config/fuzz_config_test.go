package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/pelletier/go-toml/v2"

	"github.com/backfill/backfill/lib/config"
)

// fuzzSecret is a token and a salt the harness puts in front of the fuzzed
// document: no error about the rest may repeat them.
const fuzzSecret = "fuzz-secret-0123456789abcdef0123"

// FuzzParse feeds arbitrary documents to the configuration decoder (issue
// 10). It must never panic; every error must be a configuration error
// (exit status 2) naming the file, with a line inside the document when it
// has one; an accepted document must validate without panicking, and
// written back as TOML it must read back the same; and no error may quote
// the token or the salt.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"",
		"[auth]\ntoken = \"x\"\n",
		"[server]\nchunk_sise = 10\n",
		"[server]\nchunk_size = \"ten\"\n",
		"[sanitize.users]\nemail = { type = \"email\", exclude = [\"*@corp.example\"] }\nname = { type = \"sql\", expr = \"CONCAT('x', id)\" }\n",
		"[limits.activity_log]\nmax_rows = 1000\norder_by = \"created_at\"\ndirection = \"desc\"\n",
		"exclude_tables = [\"a\", \"b\"]\n[client]\nexclude_tables = [\"c\"]\ntimeout = \"300s\"\nlocal_cache_hours = 1.5\n",
		"[client]\ntimeout = 30\nparallel = -1\n",
		"[server]\nsalt = \"\"\"multi\nline\"\"\"\n",
		"a = 1\na = 2\n",
		"[auth]\n[auth]\n",
		"[sanitize.\"we`ird\".\"col\\u0000\"]\nx = { type = \"keep\" }\n",
		"[server]\nlevel = 99\nmax_concurrent_dumps = 0\ndump_timeout = \"-1s\"\n",
		"\xff\xfe[auth]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse("fuzz.toml", data)
		lines := strings.Count(string(data), "\n") + 1
		if err != nil {
			checkConfigError(t, err, lines)
		} else {
			if verr := c.Validate(); verr != nil {
				var ce interface{ ConfigError() }
				if !errors.As(verr, &ce) {
					t.Fatalf("Validate() = %T %v, not a configuration error", verr, verr)
				}
			}
			// Written back, it reads back the same.
			out, merr := toml.Marshal(c)
			if merr == nil {
				c2, err := config.Parse("fuzz.toml", out)
				if err != nil {
					t.Fatalf("the configuration written back does not parse: %v\n%s", err, out)
				}
				opts := []cmp.Option{cmpopts.IgnoreUnexported(config.Config{}), cmpopts.EquateNaNs(), cmpopts.EquateEmpty()}
				if diff := cmp.Diff(c, c2, opts...); diff != "" {
					t.Fatalf("written back and read again (-first +second):\n%s\nwritten:\n%s", diff, out)
				}
			}
		}

		// The same document after a token and a salt: no error repeats them.
		doc := "[auth]\ntoken = \"" + fuzzSecret + "\"\n[server]\nsalt = \"" + fuzzSecret + "\"\n" + string(data)
		c, err = config.Parse("fuzz.toml", []byte(doc))
		if err == nil {
			err = c.Validate()
		}
		if err != nil && strings.Contains(err.Error(), fuzzSecret) {
			t.Fatalf("the error quotes the token or salt: %v", err)
		}
	})
}

func checkConfigError(t *testing.T, err error, lines int) {
	t.Helper()
	var ce interface{ ConfigError() }
	if !errors.As(err, &ce) {
		t.Fatalf("Parse() = %T %v, not a configuration error", err, err)
	}
	var es config.Errors
	var e *config.Error
	switch {
	case errors.As(err, &es):
		if len(es) == 0 {
			t.Fatalf("Parse() returned an empty Errors")
		}
	case errors.As(err, &e):
		es = config.Errors{e}
	default:
		t.Fatalf("Parse() = %T, want *config.Error or config.Errors", err)
	}
	for _, e := range es {
		if e.File != "fuzz.toml" {
			t.Errorf("error %q does not name the file", e)
		}
		if e.Line < 0 || e.Line > lines {
			t.Errorf("error %q: line %d of a %d-line document", e, e.Line, lines)
		}
		if !strings.HasPrefix(e.Error(), "fuzz.toml") {
			t.Errorf("error %q does not start with the file name", e)
		}
	}
}
