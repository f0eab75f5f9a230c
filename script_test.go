package backfill_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/backfill/backfill/lib/mysqldb"
	"github.com/backfill/backfill/lib/testdb"
)

// programs maps each tool's name to its Main; programs_*_test.go files add
// to it, so that every tool runs as a real process inside the scripts.
var programs = map[string]func() int{}

func TestMain(m *testing.M) {
	cmds := map[string]func(){}
	for name, f := range programs {
		cmds[name] = func() { os.Exit(f()) }
	}
	testscript.Main(harness{m}, cmds)
}

// harness stops a throwaway server after all tests; testscript.Main never
// returns. Subprocesses dispatch on argv[0] before m.Run, so they never
// start a server.
type harness struct{ m *testing.M }

func (h harness) Run() int { code := h.m.Run(); testdb.Shutdown(); return code }

var repoRoot = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}()

func bg() context.Context { return context.Background() }

// testToken is the bearer token scripts use; scripts assert it never shows.
const testToken = "test-token-0123456789abcdef0123456789"

func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       os.Getenv("BACKFILL_UPDATE") != "",
		Setup:               setupScript,
		Cmds:                scriptCmds,
		Condition:           scriptCond,
	})
}

// setupScript gives each script its own source ("production") and
// destination ("local") databases and the environment the tools read.
func setupScript(e *testscript.Env) error {
	srv, err := testdb.Get()
	if err != nil {
		return err
	}
	src, err := srv.CreateDB()
	if err != nil {
		return err
	}
	dst, err := srv.CreateDB()
	if err != nil {
		src.Drop()
		return err
	}
	e.Defer(func() { src.Drop(); dst.Drop() })
	e.Values[dbKey("SRC_DSN")] = src
	e.Values[dbKey("DST_DSN")] = dst
	e.Setenv("SRC_DSN", src.DSN())
	e.Setenv("DST_DSN", dst.DSN())
	e.Setenv("SRC_DB", src.Name)
	e.Setenv("DST_DB", dst.Name)
	e.Setenv("BACKFILL_SOURCE_DSN", src.DSN())
	e.Setenv("BACKFILL_DSN", dst.DSN())
	e.Setenv("BACKFILL_ENV", "local")
	e.Setenv("BACKFILL_TOKEN", testToken)
	e.Setenv("TOKEN", testToken)
	e.Setenv("REPO", repoRoot)
	e.Setenv("SHARED", filepath.Join(repoRoot, "..", "shared"))
	e.Setenv("CI", os.Getenv("CI"))
	e.Setenv("HOME", e.WorkDir)
	return nil
}

type dbKey string

func scriptDB(ts *testscript.TestScript, name string) *testdb.DB {
	d, _ := ts.Value(dbKey(name)).(*testdb.DB)
	if d == nil {
		ts.Fatalf("no database %q (use SRC_DSN or DST_DSN)", name)
	}
	return d
}

// scriptCond knows [ci], [mariadb], [mysql] and [need:PROG]: true when PROG
// is installed; false when not (the script then skips), but an error under
// CI=true, where every program must be installed.
func scriptCond(cond string) (bool, error) {
	if prog, ok := strings.CutPrefix(cond, "need:"); ok {
		if _, err := exec.LookPath(prog); err != nil {
			if os.Getenv("CI") == "true" {
				return false, fmt.Errorf("%s is not installed (CI must install it)", prog)
			}
			return false, nil
		}
		return true, nil
	}
	switch cond {
	case "ci":
		return os.Getenv("CI") == "true", nil
	case "mariadb", "mysql":
		srv, err := testdb.Get()
		if err != nil {
			return false, err
		}
		s, err := mysqldb.Describe(bg(), srv.Admin)
		if err != nil {
			return false, err
		}
		return s.Flavor == cond, nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}

var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	// exitcode N prog args...: runs prog and requires exit status exactly N.
	"exitcode": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) < 2 {
			ts.Fatalf("usage: exitcode N prog [args...]")
		}
		want, err := strconv.Atoi(args[0])
		if err != nil {
			ts.Fatalf("usage: exitcode N prog [args...]")
		}
		err = ts.Exec(args[1], args[2:]...)
		got := 0
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			got = ee.ExitCode()
		default:
			ts.Fatalf("exec %s: %v", args[1], err)
		}
		if got != want {
			ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
		}
	},
	// sql VAR 'stmt': runs one statement on the database of $VAR and prints
	// the rows tab-separated (NULL for NULL).
	"sql": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: sql SRC_DSN|DST_DSN 'statement'")
		}
		out, err := runSQL(scriptDB(ts, args[0]).DB, args[1])
		if neg {
			if err == nil {
				ts.Fatalf("sql succeeded unexpectedly")
			}
			fmt.Fprintln(ts.Stderr(), err)
			return
		}
		ts.Check(err)
		fmt.Fprint(ts.Stdout(), out)
	},
	// sqlfile VAR file: loads an SQL script with the stock client.
	"sqlfile": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 2 {
			ts.Fatalf("usage: sqlfile SRC_DSN|DST_DSN file.sql")
		}
		ts.Check(scriptDB(ts, args[0]).LoadFile(ts.MkAbs(args[1])))
	},
	// client VAR file: pipes a file (decompressed when it is zstd) into the
	// stock mariadb/mysql client connected to the database of $VAR.
	"client": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: client SRC_DSN|DST_DSN file")
		}
		bin := testdb.Client()
		if bin == "" {
			ts.Fatalf("no mariadb/mysql client installed: apt-get install -y mariadb-client")
		}
		data, err := readMaybeZstd(ts.MkAbs(args[1]))
		ts.Check(err)
		cmd := exec.Command(bin, scriptDB(ts, args[0]).ClientArgs()...)
		cmd.Stdin = bytes.NewReader(data)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.Stdout = ts.Stdout()
		err = cmd.Run()
		fmt.Fprint(ts.Stderr(), stderr.String())
		if neg {
			if err == nil {
				ts.Fatalf("client succeeded unexpectedly")
			}
			return
		}
		if err != nil {
			ts.Fatalf("client: %v\n%s", err, stderr.String())
		}
	},
	// zstdcat file: decompresses a file to stdout.
	"zstdcat": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 1 {
			ts.Fatalf("usage: zstdcat file")
		}
		data, err := zstdDecode(ts.MkAbs(args[0]))
		if neg {
			if err == nil {
				ts.Fatalf("zstdcat succeeded unexpectedly")
			}
			return
		}
		ts.Check(err)
		ts.Stdout().Write(data)
	},
	// cut-marker file: re-compresses the stream without its last line (the
	// end marker), as if the producer had died just before it.
	"cut-marker": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 1 {
			ts.Fatalf("usage: cut-marker file")
		}
		p := ts.MkAbs(args[0])
		data, err := zstdDecode(p)
		ts.Check(err)
		text := strings.TrimSuffix(string(data), "\n")
		i := strings.LastIndex(text, "\n")
		if i < 0 || !strings.HasPrefix(text[i+1:], "-- backfill end") {
			ts.Fatalf("%s has no end marker to cut", args[0])
		}
		ts.Check(zstdWrite(p, []byte(text[:i+1])))
	},
	// truncate file N: keeps the first N bytes of a file (negative: drops -N
	// bytes from the end): the transfer that dies.
	"truncate": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 2 {
			ts.Fatalf("usage: truncate file N")
		}
		p := ts.MkAbs(args[0])
		n, err := strconv.ParseInt(args[1], 10, 64)
		ts.Check(err)
		fi, err := os.Stat(p)
		ts.Check(err)
		if n < 0 {
			n = fi.Size() + n
		}
		ts.Check(os.Truncate(p, max(n, 0)))
	},
	// tablesum VAR table: an order-independent digest of a table's rows.
	"tablesum": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) < 2 {
			ts.Fatalf("usage: tablesum SRC_DSN|DST_DSN table [column...]")
		}
		sum, n, err := tableSum(scriptDB(ts, args[0]).DB, args[1], args[2:])
		ts.Check(err)
		fmt.Fprintf(ts.Stdout(), "%d %s\n", n, sum)
	},
	// jsonnorm file key...: replaces the values of the named keys (anywhere
	// in the document) with "X", so volatile values can be compared.
	"jsonnorm": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) < 2 {
			ts.Fatalf("usage: jsonnorm file key...")
		}
		p := ts.MkAbs(args[0])
		data, err := os.ReadFile(p)
		ts.Check(err)
		keys := map[string]bool{}
		for _, k := range args[1:] {
			keys[k] = true
		}
		out, err := normJSON(data, keys)
		ts.Check(err)
		ts.Check(os.WriteFile(p, out, 0o666))
	},
	// env-read VAR file: sets $VAR to the file's contents, trimmed.
	"env-read": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 2 {
			ts.Fatalf("usage: env-read VAR file")
		}
		ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile(args[1])))
	},
	// waitfile file: waits up to 30s for a file to exist and be non-empty.
	"waitfile": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 1 {
			ts.Fatalf("usage: waitfile file")
		}
		p := ts.MkAbs(args[0])
		deadline := time.Now().Add(30 * time.Second)
		for {
			if fi, err := os.Stat(p); err == nil && fi.Size() > 0 {
				return
			}
			if time.Now().After(deadline) {
				ts.Fatalf("%s did not appear within 30s", args[0])
			}
			time.Sleep(20 * time.Millisecond)
		}
	},
	// lines file N: asserts the file has exactly N lines.
	"lines": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: lines file N")
		}
		want, err := strconv.Atoi(args[1])
		ts.Check(err)
		n := 0
		sc := bufio.NewScanner(strings.NewReader(ts.ReadFile(args[0])))
		sc.Buffer(nil, 1<<30)
		for sc.Scan() {
			n++
		}
		if (n == want) == neg {
			ts.Fatalf("%s has %d lines, want %d", args[0], n, want)
		}
	},
}

// normJSON re-indents a JSON document keeping its key order, replacing the
// values of the named keys (anywhere) with "X".
func normJSON(data []byte, keys map[string]bool) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var b bytes.Buffer
	var walk func(indent string, replace bool) error
	walk = func(indent string, replace bool) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if replace {
			// Skip the value, whatever its shape.
			depth := 0
			for {
				if d, ok := tok.(json.Delim); ok {
					if d == '{' || d == '[' {
						depth++
					} else {
						depth--
					}
				}
				if depth == 0 {
					break
				}
				if tok, err = dec.Token(); err != nil {
					return err
				}
			}
			b.WriteString(`"X"`)
			return nil
		}
		switch t := tok.(type) {
		case json.Delim:
			closer := map[json.Delim]string{'{': "}", '[': "]"}[t]
			b.WriteString(t.String())
			first := true
			for dec.More() {
				if !first {
					b.WriteByte(',')
				}
				first = false
				b.WriteString("\n" + indent + "  ")
				rep := false
				if t == '{' {
					kt, err := dec.Token()
					if err != nil {
						return err
					}
					k, _ := json.Marshal(kt)
					b.Write(k)
					b.WriteString(": ")
					rep = keys[kt.(string)]
				}
				if err := walk(indent+"  ", rep); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil {
				return err
			}
			if !first {
				b.WriteString("\n" + indent)
			}
			b.WriteString(closer)
		default:
			enc, err := json.Marshal(t)
			if err != nil {
				return err
			}
			b.Write(bytes.ReplaceAll(enc, []byte(`\u0026`), []byte("&")))
		}
		return nil
	}
	if err := walk("", false); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

func runSQL(db *sql.DB, stmt string) (string, error) {
	rows, err := db.QueryContext(bg(), stmt)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		for i, v := range vals {
			if i > 0 {
				b.WriteByte('\t')
			}
			if v == nil {
				b.WriteString("NULL")
			} else {
				b.Write(v)
			}
		}
		b.WriteByte('\n')
	}
	return b.String(), rows.Err()
}

// tableSum hashes every row of table (all columns, or the given ones) as
// hex, sorts the row hashes and hashes them again.
func tableSum(db *sql.DB, table string, cols []string) (string, int, error) {
	if len(cols) == 0 {
		rows, err := db.QueryContext(bg(), "SELECT COLUMN_NAME FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION", table)
		if err != nil {
			return "", 0, err
		}
		for rows.Next() {
			var c string
			rows.Scan(&c)
			cols = append(cols, c)
		}
		rows.Close()
		if len(cols) == 0 {
			return "", 0, fmt.Errorf("table %q not found", table)
		}
	}
	var exprs []string
	for _, c := range cols {
		q := "`" + strings.ReplaceAll(c, "`", "``") + "`"
		exprs = append(exprs, "COALESCE(HEX("+q+"),'NULL')")
	}
	q := "SELECT SHA2(CONCAT_WS('|'," + strings.Join(exprs, ",") + "),256) FROM `" + strings.ReplaceAll(table, "`", "``") + "`"
	rows, err := db.QueryContext(bg(), q)
	if err != nil {
		return "", 0, err
	}
	defer rows.Close()
	var sums []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return "", 0, err
		}
		sums = append(sums, s)
	}
	sort.Strings(sums)
	h := sha256.Sum256([]byte(strings.Join(sums, "\n")))
	return hex.EncodeToString(h[:8]), len(sums), rows.Err()
}

func zstdDecode(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := zstd.NewReader(f)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(d)
	return buf.Bytes(), err
}

func readMaybeZstd(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(data, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		return zstdDecode(path)
	}
	return data, nil
}

func zstdWrite(path string, data []byte) error {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		return err
	}
	defer enc.Close()
	return os.WriteFile(path, enc.EncodeAll(data, nil), 0o666)
}
