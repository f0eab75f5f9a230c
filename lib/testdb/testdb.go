// Package testdb finds or starts a real MariaDB/MySQL server for tests and
// gives each test its own database.
//
// The server is, in order: $BACKFILL_TEST_DSN; root with no password on
// 127.0.0.1:3306 if it answers; a throwaway mariadbd started from the
// installed binaries in a temporary directory (stopped by Shutdown, or when
// the test binary exits). BACKFILL_TEST_SERVER=throwaway skips the second:
// it runs the tests the way a machine without a server does. When
// none of these works, tests fail with the command that installs a server:
// they never skip silently.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/backfill/backfill/lib/mysqldb"
)

// Server is a reachable database server with administrative rights.
type Server struct {
	cfg   *mysql.Config // no DBName
	Admin *sql.DB
	Where string // how it was found, for messages

	sv *supervisor // a throwaway server's; nil otherwise
}

var (
	once   sync.Once
	server *Server
	errSrv error
)

// Get returns the shared server, finding or starting it on first use.
func Get() (*Server, error) {
	once.Do(func() { server, errSrv = find() })
	return server, errSrv
}

// Shutdown stops a throwaway server started by Get and waits until its
// files are gone. Safe to call always; a test binary that does not call it
// leaves nothing behind either, only a second or two later.
func Shutdown() {
	if server != nil {
		server.stop()
	}
}

// stop stops s if it is a throwaway server and waits until its files are
// gone.
func (s *Server) stop() {
	if s.sv == nil {
		return
	}
	_ = s.Admin.Close()
	s.sv.halt()
}

func find() (*Server, error) {
	if dsn := os.Getenv("BACKFILL_TEST_DSN"); dsn != "" {
		s, err := connect(dsn, "$BACKFILL_TEST_DSN")
		if err != nil {
			return nil, fmt.Errorf("testdb: $BACKFILL_TEST_DSN %s does not answer: %w", mysqldb.Redact(dsn), err)
		}
		return s, nil
	}
	if os.Getenv("BACKFILL_TEST_SERVER") == "throwaway" {
		return start()
	}
	if s, err := connect("root@tcp(127.0.0.1:3306)/?timeout=2s", "127.0.0.1:3306"); err == nil {
		return s, nil
	}
	return start()
}

func connect(dsn, where string) (*Server, error) {
	cfg, err := mysqldb.Config(dsn)
	if err != nil {
		return nil, err
	}
	cfg.DBName = ""
	db, err := mysqldb.OpenConfig(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return &Server{cfg: cfg, Admin: db, Where: where}, nil
}

const installHint = "install a server with: apt-get install -y mariadb-server (or set BACKFILL_TEST_DSN)"

func lookBin(names ...string) string {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		for _, d := range []string{"/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/mysql/bin"} {
			p := filepath.Join(d, n)
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	return ""
}

// start runs a throwaway mariadbd on a unix socket in a temporary directory.
func start() (*Server, error) {
	mysqld := lookBin("mariadbd", "mysqld")
	installDB := lookBin("mariadb-install-db", "mysql_install_db")
	if mysqld == "" || installDB == "" {
		return nil, errors.New("testdb: no database server answers on 127.0.0.1:3306 and no mariadbd is installed; " + installHint)
	}
	// Unix socket paths are limited to about 107 bytes: keep it short.
	dir, err := os.MkdirTemp("", "bfdb")
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	// Each server keeps its temporary files in its own directory: test
	// binaries run in parallel, each with its own throwaway server, and
	// servers sharing /tmp removed each other's temporary tables (and
	// mariadb-install-db crashed on it).
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	install := exec.Command(installDB, "--no-defaults", "--datadir="+data, "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db")
	install.Env = append(os.Environ(), "TMPDIR="+tmp)
	out, err := install.CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("testdb: %s failed: %v\n%s", installDB, err, out)
	}
	sock := filepath.Join(dir, "s")
	// The server runs under a shell that stops it and removes dir as soon
	// as its standard input ends: when Shutdown closes it, or when the test
	// process exits without calling Shutdown (most test binaries) or dies.
	// No test run leaves a server or its files behind (supervise.go).
	sv, err := supervise(dir, mysqld,
		"--no-defaults", "--datadir="+data, "--tmpdir="+tmp, "--socket="+sock,
		"--skip-networking", "--user=root", "--log-error="+filepath.Join(dir, "err.log"),
		"--pid-file="+filepath.Join(dir, "pid"), "--innodb-buffer-pool-size=256M",
		"--max-allowed-packet=256M", "--local-infile=1")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		s, err := connect("root@unix("+sock+")/", "throwaway mariadbd in "+dir)
		if err == nil {
			s.sv = sv
			return s, nil
		}
		status, exited := sv.exited()
		if exited || time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "err.log"))
			sv.halt()
			if exited {
				return nil, fmt.Errorf("testdb: throwaway %s in %s exited with status %s before it answered; its log:\n%s", mysqld, dir, status, log)
			}
			return nil, fmt.Errorf("testdb: throwaway %s in %s did not answer within 60s: %v; its log:\n%s", mysqld, dir, err, log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// DB is one database created for a test.
type DB struct {
	Name string
	*sql.DB
	srv *Server
}

// DSN returns a DSN (go-sql-driver syntax) selecting this database.
func (d *DB) DSN() string {
	cfg := d.srv.cfg.Clone()
	cfg.DBName = d.Name
	cfg.Params = nil // the tools force their own settings
	return cfg.FormatDSN()
}

// ClientArgs returns the connection arguments for the stock mariadb/mysql
// command-line client, database name last.
func (d *DB) ClientArgs() []string { return d.srv.ClientArgs(d.Name) }

// ClientArgs returns stock-client arguments for database name on the server.
func (s *Server) ClientArgs(name string) []string {
	c := s.cfg
	args := []string{"--no-defaults", "--user=" + c.User}
	if c.Passwd != "" {
		args = append(args, "--password="+c.Passwd)
	}
	switch c.Net {
	case "unix":
		args = append(args, "--socket="+c.Addr)
	default:
		host, port := c.Addr, "3306"
		if h, p, err := splitHostPort(c.Addr); err == nil {
			host, port = h, p
		}
		args = append(args, "--host="+host, "--port="+port, "--protocol=TCP")
	}
	return append(args, name)
}

func splitHostPort(addr string) (string, string, error) {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			if _, err := strconv.Atoi(addr[i+1:]); err != nil {
				return "", "", err
			}
			return addr[:i], addr[i+1:], nil
		}
	}
	return "", "", errors.New("no port")
}

// DSNFor returns a DSN for database name on this server.
func (s *Server) DSNFor(name string) string {
	cfg := s.cfg.Clone()
	cfg.DBName = name
	cfg.Params = nil
	return cfg.FormatDSN()
}

// CreateDB creates an empty utf8mb4 database named bf_t_<random>.
func (s *Server) CreateDB() (*DB, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "bf_t_" + hex.EncodeToString(b[:])
	if _, err := s.Admin.Exec("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"); err != nil {
		return nil, fmt.Errorf("testdb: create database: %w", err)
	}
	db, err := mysqldb.Open(s.DSNFor(name))
	if err != nil {
		return nil, err
	}
	return &DB{Name: name, DB: db, srv: s}, nil
}

// Drop closes the pool and drops the database.
func (d *DB) Drop() error {
	d.DB.Close()
	_, err := d.srv.Admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS `"+d.Name+"`")
	return err
}

// Server returns the server the database lives on.
func (d *DB) Server() *Server { return d.srv }

// New returns a fresh database for t, dropped when the test ends. It fails
// the test (never skips) when no server can be found or started.
func New(t testing.TB) *DB {
	t.Helper()
	s, err := Get()
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.CreateDB()
	if err != nil {
		t.Fatal(err)
	}
	// Not t.Context(): it is cancelled before cleanups run.
	t.Cleanup(func() {
		if err := d.Drop(); err != nil {
			t.Errorf("testdb: drop %s: %v", d.Name, err)
		}
	})
	return d
}

// Exec runs statements one by one on d, failing t on the first error.
func (d *DB) Exec(t testing.TB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := d.DB.Exec(s); err != nil {
			t.Fatalf("exec %q: %v", short(s), err)
		}
	}
}

func short(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// LoadFile loads an SQL script (with DELIMITER blocks, triggers, views...)
// into d with the stock command-line client, as a person would.
func (d *DB) LoadFile(path string) error {
	client := lookBin("mariadb", "mysql")
	if client == "" {
		return errors.New("testdb: no mariadb/mysql client installed; " + installHint)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command(client, d.ClientArgs()...)
	cmd.Stdin = f
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("testdb: load %s: %v\n%s", path, err, out)
	}
	return nil
}

// Client returns the path of the stock command-line client, or "".
func Client() string { return lookBin("mariadb", "mysql") }
