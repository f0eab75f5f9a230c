package bfstatus

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backfill/backfill/lib/cli"
	"github.com/backfill/backfill/lib/state"
)

// statusRun runs bf-status with args and stdin in a fresh environment and
// returns its stdout, stderr and exit status.
func statusRun(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr strings.Builder
	env := cli.Env{
		Args:   args,
		Stdin:  strings.NewReader(stdin),
		Stdout: &stdout,
		Stderr: &stderr,
		Getenv: func(k string) string {
			if k == "BACKFILL_SOURCE_URL" {
				return "http://127.0.0.1:9"
			}
			return ""
		},
	}
	code := cli.Run(prog, env, Run)
	return stdout.String(), stderr.String(), code
}

// manifestDoc is a manifest of users and orders with these fingerprints
// ("" leaves the key out, as an older bf-serve does).
func manifestDoc(users, orders string) string {
	table := func(name, fp string) string {
		if fp == "" {
			return `{"name": "` + name + `"}`
		}
		return `{"name": "` + name + `", "masking": "` + fp + `"}`
	}
	return `{"version": 1, "generated_at": "2026-11-25T12:00:00Z", "database": "app", "order": ["users", "orders"], "tables": [` +
		table("users", users) + ", " + table("orders", orders) + "]}\n"
}

// pulled records a complete full pull of the download in a new directory
// whose manifest is doc, and returns the state file and the directory.
func pulled(t *testing.T, doc string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	stateFile := filepath.Join(dir, "state.json")
	dl := filepath.Join(dir, "dl")
	os.Mkdir(dl, 0o755)
	os.WriteFile(filepath.Join(dl, "manifest.json"), []byte(doc), 0o644)
	result := filepath.Join(dir, "result.json")
	os.WriteFile(result, []byte(`{"tables": [{"table": "users"}, {"table": "orders"}], "rows": 5}`), 0o644)
	if _, stderr, code := statusRun(t, "", "--state", stateFile, "begin", "--mode", "full", "--pid", "1"); code != 0 {
		t.Fatalf("begin: exit %d: %s", code, stderr)
	}
	if _, stderr, code := statusRun(t, "", "--state", stateFile, "finish", "1", "--status", "complete", "--dir", dl, "--result", result); code != 0 {
		t.Fatalf("finish: exit %d: %s", code, stderr)
	}
	return stateFile, dl
}

// TestCheckpoint_Masking: with the server's current manifest, checkpoint
// answers "full" (nothing on stdout, the reason on stderr) when a table's
// masking changed since the last complete pull or that pull recorded none,
// and the since otherwise, also for a manifest of an older bf-serve.
func TestCheckpoint_Masking(t *testing.T) {
	const since = "2026-11-25T12:00:00Z\n"
	stateFile, _ := pulled(t, manifestDoc("aaaa000000000000", "bbbb000000000000"))
	f, err := state.Open(stateFile).Load()
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := f.Pull(1); p.Masking["users"] != "aaaa000000000000" || p.Masking["orders"] != "bbbb000000000000" {
		t.Fatalf("finish recorded masking %v", p.Masking)
	}
	tests := []struct {
		name         string
		args         []string
		manifest     string
		stdout, says string
	}{
		{"without --manifest", nil, "", since, ""},
		{"unchanged", []string{"--manifest", "-"}, manifestDoc("aaaa000000000000", "bbbb000000000000"), since, ""},
		{"users changed", []string{"--manifest", "-"}, manifestDoc("ffff000000000000", "bbbb000000000000"), "",
			"bf-status: full pull: how users is masked changed on the server since the last pull (rules, salt or masking version)\n"},
		{"both changed", []string{"--manifest", "-"}, manifestDoc("ffff000000000000", "ffff000000000000"), "",
			"bf-status: full pull: how orders, users are masked changed on the server since the last pull (rules, salt or masking version)\n"},
		{"--tables another table", []string{"--manifest", "-", "--tables", "orders"}, manifestDoc("ffff000000000000", "bbbb000000000000"), since, ""},
		{"--tables the changed one", []string{"--manifest", "-", "--tables", "orders,users"}, manifestDoc("ffff000000000000", "bbbb000000000000"), "",
			"bf-status: full pull: how users is masked changed"},
		{"an older bf-serve", []string{"--manifest", "-"}, manifestDoc("", ""), since, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--state", stateFile, "checkpoint"}, tt.args...)
			stdout, stderr, code := statusRun(t, tt.manifest, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if stdout != tt.stdout {
				t.Errorf("stdout %q, want %q", stdout, tt.stdout)
			}
			if tt.says == "" && stderr != "" || !strings.HasPrefix(stderr, tt.says) {
				t.Errorf("stderr %q, want %q", stderr, tt.says)
			}
		})
	}

	// A manifest in a file works as on standard input.
	file := filepath.Join(t.TempDir(), "m.json")
	os.WriteFile(file, []byte(manifestDoc("ffff000000000000", "bbbb000000000000")), 0o644)
	if stdout, _, code := statusRun(t, "", "--state", stateFile, "checkpoint", "--manifest", file); code != 0 || stdout != "" {
		t.Errorf("--manifest FILE: exit %d, stdout %q; want 0 and nothing", code, stdout)
	}
	// A missing or broken manifest is a failure, not a silent delta.
	if _, _, code := statusRun(t, "", "--state", stateFile, "checkpoint", "--manifest", file+".none"); code != 1 {
		t.Errorf("missing manifest: exit %d, want 1", code)
	}
	if _, _, code := statusRun(t, "<html>", "--state", stateFile, "checkpoint", "--manifest", "-"); code != 1 {
		t.Errorf("broken manifest: exit %d, want 1", code)
	}
}

// TestCheckpoint_MaskingUnrecorded: a pull recorded by an older bf-status
// (or with a manifest without fingerprints) makes the next pull full once
// the server has fingerprints, and stays a delta while it has none.
func TestCheckpoint_MaskingUnrecorded(t *testing.T) {
	stateFile, _ := pulled(t, manifestDoc("", ""))
	stdout, stderr, code := statusRun(t, manifestDoc("aaaa000000000000", "bbbb000000000000"), "--state", stateFile, "checkpoint", "--manifest", "-")
	if code != 0 || stdout != "" || !strings.HasPrefix(stderr, "bf-status: full pull: the last pull recorded no masking fingerprint for orders, users") {
		t.Errorf("exit %d, stdout %q, stderr %q; want a full pull and why", code, stdout, stderr)
	}
	stdout, stderr, code = statusRun(t, manifestDoc("", ""), "--state", stateFile, "checkpoint", "--manifest", "-")
	if code != 0 || stdout != "2026-11-25T12:00:00Z\n" || stderr != "" {
		t.Errorf("older bf-serve: exit %d, stdout %q, stderr %q; want the since", code, stdout, stderr)
	}
}

// TestCache_Masking: a download the server now masks otherwise is never
// reused nor resumed: its tables would mix two maskings. A table the
// download does not hold (it has users only) does not count.
func TestCache_Masking(t *testing.T) {
	stateFile, dl := pulled(t, manifestDoc("aaaa000000000000", "bbbb000000000000"))
	os.WriteFile(filepath.Join(dl, "meta.json"), []byte(`{"version": 1, "source_url": "http://127.0.0.1:9/api/backfill", "status": "complete", "started_at": "2099-01-01T00:00:00Z",
		"tables": [{"name": "users", "status": "complete", "fetched_at": "2099-01-01T00:00:00Z"}]}`), 0o644)
	for _, tt := range []struct {
		name, manifest, want, says string
	}{
		{"same masking", manifestDoc("aaaa000000000000", "bbbb000000000000"), "reuse", "using the complete download"},
		{"an older bf-serve", manifestDoc("", ""), "reuse", "using the complete download"},
		{"masked otherwise", manifestDoc("ffff000000000000", "bbbb000000000000"), "fetch", "holds a download that masks users otherwise than the server does now; downloading again"},
		{"a table not downloaded masked otherwise", manifestDoc("aaaa000000000000", "ffff000000000000"), "reuse", "using the complete download"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := statusRun(t, tt.manifest, "--state", stateFile, "cache", "--manifest", "-", dl)
			if code != 0 || strings.TrimSpace(stdout) != tt.want || !strings.Contains(stderr, tt.says) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %s and %q", code, stdout, stderr, tt.want, tt.says)
			}
		})
	}
}
