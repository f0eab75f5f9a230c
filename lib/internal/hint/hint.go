// Package hint attaches "what to do next" lines to an error. lib/cli prints
// them after the error, each as "prog: hint: ...", finding them anywhere in
// the wrapped chain through the Hints method.
package hint

// Error is an error with hints.
type Error struct {
	Err   error
	Lines []string
}

func (e *Error) Error() string   { return e.Err.Error() }
func (e *Error) Unwrap() error   { return e.Err }
func (e *Error) Hints() []string { return e.Lines }

// Wrap attaches hints to err; nil stays nil.
func Wrap(err error, hints ...string) error {
	if err == nil {
		return nil
	}
	return &Error{Err: err, Lines: hints}
}
