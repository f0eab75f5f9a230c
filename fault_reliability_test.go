package backfill_test

// Fault injection against the real programs (issue 10, DESIGN principle 3):
// bf-serve killed at random points of a dump, the network cut mid-stream,
// a full disk under bf-fetch and bf-dump. After every fault no stream
// without its end marker is imported or kept under its final name, the
// local tables are as they were (or wholly new), and a rerun completes.

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backfill/backfill/lib/faults"
)

// faultSchema is the same two tables on both sides; the source gets rows
// generated server-side, the local side a few old rows.
const faultSchema = `CREATE TABLE small (id INT PRIMARY KEY, v VARCHAR(20));
CREATE TABLE big (id INT PRIMARY KEY, a VARCHAR(64) NOT NULL, b VARCHAR(64) NOT NULL, n INT NOT NULL, created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL)`

func (r *rig) faultTables(bigRows int) (before map[string]string) {
	r.t.Helper()
	for _, db := range []string{"src", "dst"} {
		d := r.src
		if db == "dst" {
			d = r.dst
		}
		for _, stmt := range strings.Split(faultSchema, ";\n") {
			d.Exec(r.t, stmt)
		}
	}
	r.src.Exec(r.t, "INSERT INTO small VALUES (1,'one'),(2,'two'),(3,'three')",
		fmt.Sprintf("INSERT INTO big SELECT seq, MD5(seq), SHA2(seq, 256), seq * 7, '2026-01-01' + INTERVAL seq SECOND, '2026-01-02' + INTERVAL seq SECOND FROM seq_1_to_%d", bigRows))
	r.dst.Exec(r.t, "INSERT INTO small VALUES (9,'old')",
		"INSERT INTO big SELECT seq, 'old', 'old', 0, '2020-01-01', '2020-01-01' FROM seq_1_to_10")
	return sums(r.t, r.dst, "small", "big")
}

// TestFault_ServeKilled kills bf-serve (SIGKILL) at random moments while
// bf-fetch downloads every table and while a second bf-fetch pipes a dump
// into bf-import. bf-fetch never leaves a file without its end marker under
// the final name, bf-import never takes a cut stream (the table is either
// as it was or the complete new one), a .part file is refused by
// bf-import, and a rerun against a restarted server completes.
func TestFault_ServeKilled(t *testing.T) {
	t.Parallel()
	rows, rounds := 20000, 2
	if longTests() {
		rows, rounds = 200000, 10
	}
	r := newRig(t)
	before := r.faultTables(rows)
	want := sums(t, r.src, "small", "big")

	// How long one whole dump takes, to spread the kills over it.
	s := r.serve()
	res := r.mustRun("bf-fetch", "--url", s.url(), "dump", "big", "-o", "ref.sql.zst")
	full := res.took
	s.kill()
	seed := uint64(time.Now().UnixNano())
	t.Logf("one dump of %d rows takes %v; kill points seeded with %d", rows, full, seed)
	rnd := rand.New(rand.NewPCG(seed, 1))

	for round := range rounds {
		delay := time.Duration(rnd.Int64N(int64(full) * 5 / 4))
		if round == 0 {
			delay = full / 2
		}
		s := r.serve()
		fetch := r.command("bf-fetch", "--url", s.url(), "--retries", "1", "all", "--dir", "cache", "-j", "2")
		pipe := r.command("sh", "-c", "bf-fetch --url "+s.url()+" --retries 1 dump big | bf-import -")
		done := make(chan result, 2)
		go func() { done <- r.runCmd(fetch) }()
		go func() { done <- r.runCmd(pipe) }()
		time.Sleep(delay)
		s.kill()
		for range 2 {
			res := <-done
			if res.code != 0 && res.code != 1 {
				t.Errorf("round %d (kill after %v): %v exited %d, want 0 or 1\n%s", round, delay, res, res.code, res.stderr)
			}
		}
		// The pipe's bf-import took the whole new table or nothing.
		got := sum(t, r.dst, "big")
		if got != before["big"] && got != want["big"] {
			t.Fatalf("round %d (kill after %v): local big is %s: neither as before (%s) nor the source (%s)", round, delay, got, before["big"], want["big"])
		}
		if got == want["big"] {
			t.Logf("round %d: the kill after %v came after the piped dump completed", round, delay)
			r.dst.Exec(t, "DELETE FROM big", "INSERT INTO big SELECT seq, 'old', 'old', 0, '2020-01-01', '2020-01-01' FROM seq_1_to_10")
		}
		_, parts := checkDir(t, r.path("cache"))
		for _, p := range parts {
			res := r.run("bf-import", filepath.Join("cache", p))
			if res.code != 1 || !strings.Contains(res.stderr, "nothing was imported") {
				t.Errorf("round %d: bf-import %s: exit %d, want 1 and nothing imported\n%s", round, p, res.code, res.stderr)
			}
		}
		sameSums(t, fmt.Sprintf("round %d, after importing the .part files", round), r.dst, before)
	}

	// The server comes back: the rerun completes and imports everything.
	s = r.serve()
	r.mustRun("bf-fetch", "--url", s.url(), "all", "--dir", "cache")
	if _, parts := checkDir(t, r.path("cache")); len(parts) > 0 {
		t.Errorf("the rerun left %v", parts)
	}
	r.mustRun("bf-import", "--manifest", "cache/manifest.json", "cache/small.sql.zst", "cache/big.sql.zst")
	sameSums(t, "after the rerun", r.dst, want)
	if log := s.log(); strings.Contains(log, testToken) {
		t.Errorf("bf-serve's log holds the token")
	}
}

// TestFault_NetworkCut puts a proxy between bf-fetch and bf-serve that cuts
// every connection after N bytes of the response (a clean close or a reset),
// from inside the status line to the last bytes of the stream. bf-fetch -o
// never creates the file, a piped bf-import refuses the stream and leaves
// the table as it was, and with the network back the same commands work.
func TestFault_NetworkCut(t *testing.T) {
	t.Parallel()
	rows := 20000
	if longTests() {
		rows = 100000
	}
	r := newRig(t)
	before := r.faultTables(rows)
	want := sums(t, r.src, "small", "big")
	s := r.serve()
	p, err := faults.NewProxy(s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	url := "http://" + p.Addr()

	r.mustRun("bf-fetch", "--url", url, "dump", "big", "-o", "ref.sql.zst")
	fi, err := os.Stat(r.path("ref.sql.zst"))
	if err != nil {
		t.Fatal(err)
	}
	size := fi.Size()
	cuts := []int64{150, size / 2, size + 100}
	resets := []bool{false}
	if longTests() {
		cuts = append(cuts, 1, 10, 64, 400, 1024, size/4, size*3/4, size-500, size-50, size-10, size-1, size+20)
		resets = append(resets, true)
	}
	for _, reset := range resets {
		for _, n := range cuts {
			name := fmt.Sprintf("cut after %d of about %d bytes, reset %v", n, size+250, reset)
			p.CutAfter(n, reset)
			cutsBefore := p.Cuts()
			res := r.run("bf-fetch", "--url", url, "--retries", "1", "dump", "big", "-o", "big.sql.zst")
			if p.Cuts() == cutsBefore {
				// n is past the end of this response: nothing was cut.
				if res.code != 0 {
					t.Errorf("%s: nothing was cut, yet bf-fetch exited %d\n%s", name, res.code, res.stderr)
				}
				os.Remove(r.path("big.sql.zst"))
				continue
			}
			if res.code != 1 {
				t.Errorf("%s: bf-fetch -o exited %d, want 1\n%s", name, res.code, res.stderr)
			}
			if _, err := os.Stat(r.path("big.sql.zst")); err == nil {
				t.Errorf("%s: big.sql.zst exists after a cut transfer", name)
				os.Remove(r.path("big.sql.zst"))
			}
			res = r.run("sh", "-c", "bf-fetch --url "+url+" --retries 1 dump big | bf-import -")
			if res.code != 1 {
				t.Errorf("%s: bf-fetch | bf-import exited %d, want 1\n%s", name, res.code, res.stderr)
			}
			sameSums(t, name, r.dst, before)
		}
	}

	// bf-fetch retries a cut transfer: only the first connection is cut.
	p.CutAfter(0, false)
	r.mustRun("sh", "-c", "bf-fetch --url "+url+" dump big | bf-import -")
	r.mustRun("bf-fetch", "--url", url, "all", "--dir", "cache")
	r.mustRun("bf-import", "cache/small.sql.zst", "cache/big.sql.zst")
	sameSums(t, "with the network back", r.dst, want)
}

// TestFault_DiskFull runs bf-fetch all and bf-dump -o on a disk that fills
// up mid-download: a small tmpfs where the test may mount one (root on a
// real machine or a privileged container), else a file size limit
// (prlimit --fsize), which fails writes the same way (EFBIG instead of
// ENOSPC). Either way: exit 1, an error that says what happened, no file
// under its final name that is incomplete, and the rerun with room
// completes.
func TestFault_DiskFull(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.faultTables(20000)
	want := sums(t, r.src, "small", "big")
	s := r.serve()
	r.mustRun("bf-fetch", "--url", s.url(), "dump", "big", "-o", "ref.sql.zst")
	fi, err := os.Stat(r.path("ref.sql.zst"))
	if err != nil {
		t.Fatal(err)
	}
	room := fi.Size() / 2

	full := r.path("full")
	if err := os.Mkdir(full, 0o755); err != nil {
		t.Fatal(err)
	}
	// limited runs a command with room bytes of disk: on the tmpfs, or
	// under a file size limit.
	limited := func(args ...string) result { return r.run(args[0], args[1:]...) }
	tmpfs, err := faults.Mount(full, room)
	if err == nil {
		t.Logf("a %d-byte tmpfs on %s", room, full)
		defer func() {
			if err := tmpfs.Unmount(); err != nil {
				t.Error(err)
			}
		}()
	} else {
		t.Logf("%v; a file size limit of %d bytes instead", err, room)
		limited = func(args ...string) result {
			return r.run("prlimit", append([]string{fmt.Sprintf("--fsize=%d", room), "--"}, args...)...)
		}
	}

	res := limited("bf-fetch", "--url", s.url(), "all", "--dir", "full/cache", "-j", "1")
	if res.code != 1 {
		t.Fatalf("bf-fetch all on a full disk: exit %d, want 1\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "no space left on device") && !strings.Contains(res.stderr, "file too large") {
		t.Errorf("bf-fetch all on a full disk does not say the disk is full:\n%s", res.stderr)
	}
	complete, _ := checkDir(t, filepath.Join(full, "cache"))
	for _, c := range complete {
		if c == "big.sql.zst" {
			t.Errorf("big.sql.zst is there, though it could not fit")
		}
	}

	res = limited("bf-dump", "--table", "big", "-o", "full/big.sql.zst")
	if res.code != 1 {
		t.Errorf("bf-dump -o on a full disk: exit %d, want 1\n%s", res.code, res.stderr)
	}
	if _, err := os.Stat(filepath.Join(full, "big.sql.zst")); err == nil {
		t.Errorf("bf-dump -o left full/big.sql.zst on a full disk")
	}
	if ents, _ := filepath.Glob(filepath.Join(full, ".big.sql.zst.tmp-*")); len(ents) > 0 {
		t.Errorf("bf-dump -o left its temporary file %v", ents)
	}

	// With room again, the same command completes what was missing.
	if tmpfs != nil {
		if err := tmpfs.Resize(64 << 20); err != nil {
			t.Fatal(err)
		}
	}
	res = r.run("bf-fetch", "--url", s.url(), "all", "--dir", "full/cache")
	if res.code != 0 {
		t.Fatalf("the rerun with room: exit %d\n%s", res.code, res.stderr)
	}
	r.mustRun("bf-import", "full/cache/small.sql.zst", "full/cache/big.sql.zst")
	sameSums(t, "after the rerun", r.dst, want)
}
