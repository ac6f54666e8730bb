package main

import (
	"bytes"
	"strings"
	"testing"
)

// runRoot runs the root command with args and stdin in-process, as main
// does, and returns what it printed on stdout and stderr.
func runRoot(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

// runRootQuiet is runRoot for commands that must print nothing on stderr.
func runRootQuiet(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	out, errs, err := runRoot(t, stdin, args...)
	if errs != "" {
		t.Errorf("stderr %q", errs)
	}
	return out, err
}
