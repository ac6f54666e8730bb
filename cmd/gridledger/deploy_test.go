package main

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDeployFilesUseRealCommands: the systemd unit's ExecStart, the
// Dockerfile's command and the runbook's commands name subcommands and
// flags the binary has.
func TestDeployFilesUseRealCommands(t *testing.T) {
	var commands [][]string
	unit, err := os.ReadFile("../../deploy/gridledger.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(unit), "\n") {
		if rest, ok := strings.CutPrefix(line, "ExecStart=/usr/local/bin/gridledger "); ok {
			commands = append(commands, strings.Fields(rest))
		}
	}
	docker, err := os.ReadFile("../../deploy/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(docker), "\n") {
		if rest, ok := strings.CutPrefix(line, "CMD "); ok {
			var args []string
			if err := json.Unmarshal([]byte(rest), &args); err != nil {
				t.Fatalf("CMD %s: %v", rest, err)
			}
			commands = append(commands, args)
		}
	}
	// Every `gridledger …` the Dockerfile's and runbook's examples show.
	ops, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	example := regexp.MustCompile(`gridledger ((?:init|start|testnet|chaos|bench|tx)\b[^\n` + "`" + `#\\]*)`)
	for _, src := range []string{string(docker), string(ops)} {
		for _, m := range example.FindAllStringSubmatch(src, -1) {
			commands = append(commands, strings.Fields(strings.ReplaceAll(m[1], "…", "x")))
		}
	}
	if len(commands) < 6 {
		t.Fatalf("found only %d commands: %q", len(commands), commands)
	}
	for _, args := range commands {
		root := newRootCmd()
		cmd, rest, err := root.Find(args)
		if err == nil {
			err = cmd.ParseFlags(rest)
		}
		if err != nil || cmd == root {
			t.Errorf("gridledger %s: %v", strings.Join(args, " "), err)
		}
	}
}
