package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes of egressctl, part of its contract with CI pipelines.
const (
	// exitOK means the command ran; for check, whatever the verdict.
	exitOK = 0
	// exitBadInput means unusable input: manifests, flags or a request.
	exitBadInput = 2
	// exitMismatch means check --expect did not hold.
	exitMismatch = 3
)

// exitError carries the exit code a failure maps to.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func badInput(format string, args ...any) error {
	return &exitError{code: exitBadInput, err: fmt.Errorf(format, args...)}
}

// run executes egressctl with args and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	return runWithInput(args, os.Stdin, stdout, stderr)
}

// runWithInput is run reading "-f -" from stdin.
func runWithInput(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCommand(stdout, stderr)
	root.SetIn(stdin)
	root.SetArgs(args)
	// Ctrl-C or SIGTERM stops a long simulation at once instead of
	// waiting for it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "egressctl:", err)
	if ee, ok := errors.AsType[*exitError](err); ok {
		return ee.code
	}
	// Cobra reports unknown flags and bad flag values as plain errors;
	// they are bad input too.
	return exitBadInput
}

// newRootCommand builds the command tree; each subcommand lives in its own
// file so later ones (simulate) slot in beside check.
func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "egressctl",
		Short:         "Simulate Istio ambient egress authorization without a cluster",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newVersionCommand(), newCheckCommand(), newSimulateCommand(), newDiffCommand(), newReportCommand(), newVerifyCommand(), newObserveCommand())
	return root
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the egressctl version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), version)
			return err
		},
	}
}
