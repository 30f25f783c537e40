//go:build !linux

package main

import "os/exec"

// ownProcessGroup does nothing here: process groups and parent-death
// signals are Linux's.
func ownProcessGroup(cmd *exec.Cmd) {}

// killGroup kills the process alone.
func killGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
