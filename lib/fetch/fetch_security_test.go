package fetch_test

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/backfill/backfill/lib/dumpfmt"
	"github.com/backfill/backfill/lib/faults"
	"github.com/backfill/backfill/lib/internal/testio"
)

// TestDump_OtherTableNeverReachesOutput: a server that answers the dump of
// "users" with a complete, valid stream of "victim" is refused, and none of
// that stream reaches the output: in `bf-fetch dump users | bf-import -`
// the importer reads the output as it arrives, and would load "victim"
// whole if bf-fetch only complained at the end (issue 10: a malicious
// server must not make bf-import write a table the user did not ask for).
func TestDump_OtherTableNeverReachesOutput(t *testing.T) {
	for _, rows := range []int{3, 20000} {
		fx := newFixture(t, map[string]int{"users": 5, "victim": rows})
		fx.hook = func(w http.ResponseWriter, r *http.Request, route string, n int) bool {
			if route != "dump/users" {
				return false
			}
			w.Header().Set("Content-Type", "application/zstd")
			w.Write(stream(t, "victim", "", rows))
			return true
		}
		var log testio.SyncBuffer
		var out bytes.Buffer
		_, err := fx.fetcher(&log).Dump(t.Context(), "users", "", &out)
		if err == nil || !strings.Contains(err.Error(), `the server sent a dump of table "victim"`) {
			t.Fatalf("%d rows: Dump(users) = %v, want the other table refused", rows, err)
		}
		if out.Len() > 0 {
			_, _, verr := dumpfmt.Verify(bytes.NewReader(out.Bytes()))
			t.Errorf("%d rows: %d bytes of the other table's stream reached the output (it verifies with %v), want none", rows, out.Len(), verr)
		}
		if got := fx.dumps(); len(got) != 1 {
			t.Errorf("%d rows: requests = %v, want one (no retry)", rows, got)
		}
	}
}

// TestDump_DiskFull: a disk that fills up mid-download fails the download
// at once (no retries: asking again does not make room) and says so; what
// reached the disk is a stream that readers reject. (bf-fetch all and -o on
// a real full disk: TestFault_DiskFull at the root.)
func TestDump_DiskFull(t *testing.T) {
	fx := newFixture(t, map[string]int{"users": 20000})
	var log testio.SyncBuffer
	var out bytes.Buffer
	w := &faults.LimitWriter{W: &out, N: 4096}
	_, err := fx.fetcher(&log).Dump(t.Context(), "users", "", w)
	if !faults.IsNoSpace(err) {
		t.Fatalf("Dump() into a full disk = %v, want ENOSPC", err)
	}
	if !strings.Contains(err.Error(), "no space left on device") {
		t.Errorf("the error does not say the disk is full: %v", err)
	}
	if got := fx.dumps(); len(got) != 1 {
		t.Errorf("requests = %v, want one (a full disk is not retried)", got)
	}
	if _, _, err := dumpfmt.Verify(bytes.NewReader(out.Bytes())); !errors.Is(err, dumpfmt.ErrIncomplete) {
		t.Errorf("what reached the disk verifies with %v, want ErrIncomplete", err)
	}
}
