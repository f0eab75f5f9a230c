package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backfill/backfill/lib/dumpfmt"
	"github.com/backfill/backfill/lib/fixture"
	"github.com/backfill/backfill/lib/httpapi"
	"github.com/backfill/backfill/lib/testdb"
)

func TestMain(m *testing.M) {
	// The load test's clients run in a child process (this test binary
	// again), so that the server's memory and goroutines are measured alone.
	if os.Getenv("BF_LOAD_CLIENT") != "" {
		os.Exit(loadClient())
	}
	code := m.Run()
	testdb.Shutdown()
	os.Exit(code)
}

// loadStats is what the client process reports.
type loadStats struct {
	Requests   int            `json:"requests"`
	Status     map[string]int `json:"status"` // "200", "503", "transport", ...
	Dumps      int            `json:"dumps"`
	Manifests  int            `json:"manifests"`
	Rows       int64          `json:"rows"`
	Bytes      int64          `json:"bytes"`
	Incomplete int            `json:"incomplete"` // dumps that failed dumpfmt.Verify
	Errors     []string       `json:"errors"`     // the first few unexpected errors
	LatencyMS  []float64      `json:"latency_ms"` // of successful requests
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// loadClient runs BF_LOAD_CLIENTS workers against BF_LOAD_URL for
// BF_LOAD_SECONDS: each fetches the manifest (1 in 5) or the dump of a
// random table (a delta every third time), verifies every stream end to
// end, and retries a 503 after 50-150 ms (an impatient client, to keep the
// limit under pressure). It prints loadStats as JSON.
func loadClient() int {
	secs, _ := strconv.Atoi(os.Getenv("BF_LOAD_SECONDS"))
	n, _ := strconv.Atoi(os.Getenv("BF_LOAD_CLIENTS"))
	tables := strings.Split(os.Getenv("BF_LOAD_TABLES"), ",")
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n, MaxIdleConns: n}}
	c := &httpapi.Client{BaseURL: os.Getenv("BF_LOAD_URL"), Token: os.Getenv("BF_LOAD_TOKEN"), HTTP: hc}
	deadline := time.Now().Add(time.Duration(secs) * time.Second)
	var mu sync.Mutex
	st := loadStats{Status: map[string]int{}}
	record := func(status string, lat time.Duration, err error, f func()) {
		mu.Lock()
		defer mu.Unlock()
		st.Requests++
		st.Status[status]++
		if status == "200" {
			st.LatencyMS = append(st.LatencyMS, float64(lat.Microseconds())/1000)
		}
		if err != nil && len(st.Errors) < 10 {
			st.Errors = append(st.Errors, err.Error())
		}
		if f != nil {
			f()
		}
	}
	statusOf := func(err error) string {
		var se *httpapi.StatusError
		if errors.As(err, &se) {
			return strconv.Itoa(se.StatusCode)
		}
		return "transport"
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(i), 7))
			ctx := context.Background()
			for time.Now().Before(deadline) {
				start := time.Now()
				if rnd.IntN(5) == 0 {
					m, err := c.Manifest(ctx, "")
					if err != nil {
						s := statusOf(err)
						var e error
						if s != "503" {
							e = err
						}
						record(s, 0, e, nil)
						time.Sleep(time.Duration(50+rnd.IntN(100)) * time.Millisecond)
						continue
					}
					record("200", time.Since(start), nil, func() { st.Manifests++; _ = m })
					continue
				}
				table := tables[rnd.IntN(len(tables))]
				since := ""
				if rnd.IntN(3) == 0 {
					since = "2025-12-01T00:00:00Z"
				}
				body, err := c.Dump(ctx, table, since)
				if err != nil {
					s := statusOf(err)
					var e error
					if s != "503" {
						e = err
					}
					record(s, 0, e, nil)
					time.Sleep(time.Duration(50+rnd.IntN(100)) * time.Millisecond)
					continue
				}
				cr := &countingReader{r: body}
				_, rows, verr := dumpfmt.Verify(cr)
				body.Close()
				if verr != nil {
					record("200", time.Since(start), fmt.Errorf("dump %q: %w", table, verr), func() { st.Incomplete++ })
					continue
				}
				record("200", time.Since(start), nil, func() { st.Dumps++; st.Rows += rows; st.Bytes += cr.n })
			}
		}()
	}
	wg.Wait()
	if err := json.NewEncoder(os.Stdout).Encode(st); err != nil {
		return 1
	}
	return 0
}

// logCounter counts the server's JSON log records by status and level
// without keeping them.
type logCounter struct {
	mu      sync.Mutex
	status  map[int]int
	aborted int
	errors  []string
}

func (l *logCounter) Write(p []byte) (int, error) {
	var r struct {
		Msg     string `json:"msg"`
		Status  int    `json:"status"`
		Aborted bool   `json:"aborted"`
		Error   string `json:"error"`
		Level   string `json:"level"`
	}
	_ = json.Unmarshal(p, &r)
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.Msg == "request" {
		l.status[r.Status]++
		if r.Aborted {
			l.aborted++
		}
	}
	if (r.Level == "ERROR" || (r.Status >= 500 && r.Status != 503)) && len(l.errors) < 10 {
		l.errors = append(l.errors, string(p))
	}
	return len(p), nil
}

// procStatus reads a "VmRSS:"-style field of /proc/self/status in KiB.
func procStatus(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return -1
}

// TestLoad: 32 concurrent clients pull manifests and dumps of the generated
// schema for 30 s (BACKFILL_LOAD_SECONDS) over loopback. No 5xx but the
// intended 503s, no aborted or incomplete stream, flat memory, and no
// goroutine or database connection left behind (issue 5). Numbers are
// logged; run with
//
//	BACKFILL_LONG=1 go test -count=1 -run TestLoad -v ./lib/httpapi
func TestLoad(t *testing.T) {
	if os.Getenv("BACKFILL_LONG") == "" {
		t.Skip("load test: set BACKFILL_LONG=1 (32 clients for 30 s)")
	}
	secs := 30
	if v, err := strconv.Atoi(os.Getenv("BACKFILL_LOAD_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	const clients = 32
	ctx := context.Background()
	db := testdb.New(t)
	if _, err := fixture.Generate(ctx, db.DB, fixture.Options{Scale: 0.01, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	cfgText := baseConfig[:strings.Index(baseConfig, "[sanitize.users]")] + `[sanitize.users]
email = { type = "email", exclude = ["*@yourcompany.com"] }
name = { type = "name" }
phone = { type = "phone" }
password = { type = "hash" }
[sanitize.customers]
email = { type = "email" }
iban = { type = "fixed", value = "XX00" }
`
	cfgText = strings.Replace(cfgText, `exclude_tables = ["secrets"]`, `exclude_tables = ["page_views"]`, 1)
	cfgText = strings.Replace(cfgText, "max_concurrent_dumps = 2", "max_concurrent_dumps = 4", 1)
	cfg := mustConfig(t, cfgText)
	logs := &logCounter{status: map[int]int{}}
	s := serveConfig(t, db, cfg, slog.New(slog.NewJSONHandler(logs, nil)))

	m, err := (&httpapi.Client{BaseURL: s.url, Token: token1}).Manifest(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	tables := m.Names()

	runtime.GC()
	time.Sleep(200 * time.Millisecond)
	baseGoroutines := runtime.NumGoroutine()
	baseConns := db.Stats().OpenConnections
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	// Sample the server process's memory while the clients run.
	type sample struct {
		at               time.Duration
		heapInuse, rssKB int64
	}
	var samples []sample
	stop := make(chan struct{})
	sampled := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(sampled)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				samples = append(samples, sample{time.Since(start), int64(ms.HeapInuse), procStatus("VmRSS")})
			}
		}
	}()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		"BF_LOAD_CLIENT=1",
		"BF_LOAD_URL="+s.url,
		"BF_LOAD_TOKEN="+token1,
		"BF_LOAD_SECONDS="+strconv.Itoa(secs),
		"BF_LOAD_CLIENTS="+strconv.Itoa(clients),
		"BF_LOAD_TABLES="+strings.Join(tables, ","),
	)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	close(stop)
	<-sampled
	if err != nil {
		t.Fatalf("load client: %v", err)
	}
	var st loadStats
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("load client output %q: %v", out, err)
	}

	// Afterwards: no request in flight, no connection held, no goroutine
	// left. Each connection the pool keeps idle owns one goroutine (the
	// driver's cancellation watcher): the budget grows with the pool.
	budget := func() int { return baseGoroutines + max(0, db.Stats().OpenConnections-baseConns) }
	goroutinesBack, _ := waitFor(10*time.Second, func() bool {
		runtime.GC()
		return runtime.NumGoroutine() <= budget()
	})
	srv, err := testdb.Get()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := waitFor(5*time.Second, func() bool { return running(t, srv.Admin, db.Name) == 0 && db.Stats().InUse == 0 }); !ok {
		t.Errorf("after the load: %d queries still run, %d connections in use", running(t, srv.Admin, db.Name), db.Stats().InUse)
	}
	var open int
	if err := srv.Admin.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ?", db.Name).Scan(&open); err != nil {
		t.Fatal(err)
	}
	if g := runtime.NumGoroutine(); g > budget() {
		var buf strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
		t.Errorf("goroutines: %d before the load with %d database connections, %d after with %d (leak):\n%s",
			baseGoroutines, baseConns, g, db.Stats().OpenConnections, buf.String())
	}
	if open > cfg.Server.MaxConcurrentDumps {
		t.Errorf("%d database connections open after the load, want at most the idle pool (%d)", open, cfg.Server.MaxConcurrentDumps)
	}

	logs.mu.Lock()
	defer logs.mu.Unlock()
	var bad []string
	for code, k := range logs.status {
		if code >= 500 && code != 503 {
			bad = append(bad, fmt.Sprintf("%d x%d", code, k))
		}
	}
	if len(bad) > 0 || logs.aborted > 0 {
		t.Errorf("server answered %v and aborted %d dumps: %q", bad, logs.aborted, logs.errors)
	}
	for code := range st.Status {
		if code != "200" && code != "503" {
			t.Errorf("clients saw %s x%d: %q", code, st.Status[code], st.Errors)
		}
	}
	if st.Incomplete > 0 {
		t.Errorf("%d incomplete dumps: %q", st.Incomplete, st.Errors)
	}
	if st.Dumps == 0 || st.Manifests == 0 || st.Status["503"] == 0 {
		t.Errorf("the load did not exercise everything: %+v", st)
	}

	// Memory: the peak and the steady state (the max heap of the first
	// and of the last third of the run).
	var peakHeap, peakRSS, firstThird, lastThird int64
	total := time.Duration(secs) * time.Second
	for _, sm := range samples {
		peakHeap, peakRSS = max(peakHeap, sm.heapInuse), max(peakRSS, sm.rssKB)
		switch {
		case sm.at < total/3:
			firstThird = max(firstThird, sm.heapInuse)
		case sm.at > 2*total/3:
			lastThird = max(lastThird, sm.heapInuse)
		}
	}
	if firstThird > 0 && lastThird > 2*firstThird+16<<20 {
		t.Errorf("heap grows: %d MiB in the first third, %d MiB in the last", firstThird>>20, lastThird>>20)
	}
	slices.Sort(st.LatencyMS)
	pct := func(p float64) float64 {
		if len(st.LatencyMS) == 0 {
			return 0
		}
		return st.LatencyMS[int(p*float64(len(st.LatencyMS)-1))]
	}
	t.Logf("load: %d clients, %d s, %d tables (scale 0.01), max_concurrent_dumps %d", clients, secs, len(tables), cfg.Server.MaxConcurrentDumps)
	t.Logf("requests %d: %v (server log: %v); %d dumps (%d rows, %.1f MiB), %d manifests, %d incomplete",
		st.Requests, st.Status, logs.status, st.Dumps, st.Rows, float64(st.Bytes)/(1<<20), st.Manifests, st.Incomplete)
	t.Logf("latency of successful requests: p50 %.1f ms, p99 %.1f ms, max %.1f ms", pct(0.5), pct(0.99), pct(1))
	t.Logf("server process: peak RSS %.1f MiB, peak heap in use %.1f MiB (first third %.1f, last third %.1f; %.1f before the load)",
		float64(max(peakRSS, procStatus("VmHWM")))/1024, float64(peakHeap)/(1<<20),
		float64(firstThird)/(1<<20), float64(lastThird)/(1<<20), float64(base.HeapInuse)/(1<<20))
	t.Logf("afterwards: goroutines %d (before %d, budget %d with %d pooled connections; settled within %s), database connections open %d, queries running %d",
		runtime.NumGoroutine(), baseGoroutines, budget(), db.Stats().OpenConnections, goroutinesBack.Round(time.Millisecond), open, running(t, srv.Admin, db.Name))
}
