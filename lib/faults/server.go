package faults

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/backfill/backfill/lib/mysqldb"
)

// Server is a private mariadbd in a temporary directory, listening on a
// unix socket only. Unlike the shared test server, a test may stop, kill
// and restart it, and start it with its own settings.
type Server struct {
	dir  string
	args []string
	proc *exec.Cmd
	exit chan error

	// Admin is a pool of root connections; it survives restarts (the
	// driver reconnects).
	Admin *sql.DB
}

func lookBin(names ...string) string {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		for _, d := range []string{"/usr/sbin", "/usr/bin", "/usr/local/bin"} {
			p := filepath.Join(d, n)
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	return ""
}

// StartServer initializes a data directory and starts mariadbd on it with
// the extra server options args (e.g. "--max-allowed-packet=256M"). Stop it
// with Close. It takes several seconds: keep it to slow tests.
func StartServer(args ...string) (*Server, error) {
	mysqld := lookBin("mariadbd", "mysqld")
	install := lookBin("mariadb-install-db", "mysql_install_db")
	if mysqld == "" || install == "" {
		return nil, errors.New("faults: mariadbd is not installed: apt-get install -y mariadb-server")
	}
	// Unix socket paths are limited to about 107 bytes: keep it short.
	dir, err := os.MkdirTemp("", "bff")
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(install, "--no-defaults", "--datadir="+filepath.Join(dir, "data"), "--user=root",
		"--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("faults: %s: %v\n%s", install, err, out)
	}
	s := &Server{dir: dir}
	s.args = append([]string{mysqld, "--no-defaults", "--datadir=" + filepath.Join(dir, "data"),
		"--socket=" + s.socket(), "--skip-networking", "--user=root",
		"--log-error=" + filepath.Join(dir, "err.log"), "--pid-file=" + filepath.Join(dir, "pid"),
		"--innodb-buffer-pool-size=128M", "--local-infile=1"}, args...)
	db, err := mysqldb.Open(s.DSN(""))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.Admin = db
	if err := s.Start(); err != nil {
		db.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *Server) socket() string { return filepath.Join(s.dir, "s") }

// DSN is the root DSN for database name ("" for none).
func (s *Server) DSN(name string) string { return "root@unix(" + s.socket() + ")/" + name }

// UserDSN is the DSN of user with password for database name.
func (s *Server) UserDSN(user, password, name string) string {
	return user + ":" + password + "@unix(" + s.socket() + ")/" + name
}

// ClientArgs are the stock client's connection arguments for database name.
func (s *Server) ClientArgs(name string) []string {
	return []string{"--no-defaults", "--user=root", "--socket=" + s.socket(), name}
}

// Start starts mariadbd (again) and waits until it answers.
func (s *Server) Start() error {
	if s.proc != nil {
		return errors.New("faults: server already running")
	}
	cmd := exec.Command(s.args[0], s.args[1:]...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("faults: start mariadbd: %w", err)
	}
	s.proc = cmd
	s.exit = make(chan error, 1)
	go func() { s.exit <- cmd.Wait() }()
	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := s.Admin.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case werr := <-s.exit:
			s.proc = nil
			log, _ := os.ReadFile(filepath.Join(s.dir, "err.log"))
			return fmt.Errorf("faults: mariadbd exited (%v) before answering:\n%s", werr, log)
		default:
		}
		if time.Now().After(deadline) {
			s.Kill()
			log, _ := os.ReadFile(filepath.Join(s.dir, "err.log"))
			return fmt.Errorf("faults: mariadbd did not answer within 90s: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop shuts mariadbd down cleanly (SIGTERM) and waits for it.
func (s *Server) Stop() error { return s.signal(syscall.SIGTERM, 60*time.Second) }

// Kill kills mariadbd (SIGKILL), as a crash or a power cut would, and waits
// for it. Its next Start runs crash recovery.
func (s *Server) Kill() error { return s.signal(syscall.SIGKILL, 30*time.Second) }

func (s *Server) signal(sig syscall.Signal, wait time.Duration) error {
	if s.proc == nil {
		return nil
	}
	_ = s.proc.Process.Signal(sig)
	select {
	case <-s.exit:
	case <-time.After(wait):
		_ = s.proc.Process.Kill()
		<-s.exit
	}
	s.proc = nil
	// The pool's connections are dead now; let it dial new ones.
	s.Admin.SetMaxIdleConns(0)
	s.Admin.SetMaxIdleConns(2)
	return nil
}

// PID is mariadbd's process id, 0 when it is not running.
func (s *Server) PID() int {
	if s.proc == nil {
		return 0
	}
	return s.proc.Process.Pid
}

// Close stops the server and removes its directory.
func (s *Server) Close() error {
	err := s.Stop()
	s.Admin.Close()
	if rerr := os.RemoveAll(s.dir); err == nil {
		err = rerr
	}
	return err
}
