package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ambient-egress/ambient-egress-operator/simulator"
)

// checkOptions are the flags of egressctl check.
type checkOptions struct {
	input      inputOptions
	spec       simulator.RequestSpec
	claims     string
	destLabels string
	meshFlags
	expect string
	output string
}

func newCheckCommand() *cobra.Command {
	o := &checkOptions{}
	cmd := &cobra.Command{
		Use:   "check -f PATH (--from PRINCIPAL | --plaintext) (--url URL | --host HOST) [flags]",
		Short: "Decide whether one request would be allowed",
		Long: "check compiles the manifests (files or directories, as for kubectl apply -f) and evaluates one\n" +
			"request the way Istio ambient would: at the waypoint the destination ServiceEntry is bound to,\n" +
			"or at ztunnel with --at ztunnel. Exit codes: 0 evaluated, 2 bad input, 3 --expect mismatch.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd) },
	}
	o.bindFlags(cmd)
	o.input.bindFlags(cmd, "manifest file or directory, - for standard input (repeatable)")
	return cmd
}

func (o *checkOptions) bindFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.spec.From, "from", "", "source principal, e.g. cluster.local/ns/default/sa/admin")
	f.BoolVar(&o.spec.Plaintext, "plaintext", false, "the source has no mTLS identity")
	f.StringVar(&o.spec.SourceNamespace, "source-namespace", "", "source namespace")
	f.StringVar(&o.spec.SourceIP, "source-ip", "", "source IP address")
	f.StringVar(&o.spec.RemoteIP, "remote-ip", "", "original client address (remote.ip); by default, for HTTP, the rightmost X-Forwarded-For address, as a waypoint takes it, else the source IP")
	f.StringVar(&o.spec.RequestPrincipal, "request-principal", "", "validated JWT principal ISS/SUB")
	f.StringVar(&o.claims, "claims", "", "validated JWT payload as JSON (nested claims allowed)")
	f.StringVar(&o.spec.URL, "url", "", "request URL (http:// is HTTP, https:// is TLS)")
	f.StringVar(&o.spec.Host, "host", "", "Host header exactly as sent (may carry :port), or the TCP/TLS destination")
	f.StringVar(&o.spec.Path, "path", "", "raw request path (may contain a query or dot-segments)")
	f.StringVar(&o.spec.Method, "method", "", "HTTP method; without method and path the request is TCP/TLS")
	f.StringArrayVarP(&o.spec.Headers, "header", "H", nil, "request header 'Name: value' (repeatable)")
	f.IntVar(&o.spec.Port, "port", 0, "destination service port (default from the URL, else 80)")
	f.StringVar(&o.spec.SNI, "sni", "", "TLS server name")
	f.StringVar(&o.spec.DestIP, "dest-ip", "", "destination IP address")
	f.StringVar(&o.spec.At, "at", "", "enforcement point: waypoint or ztunnel (default: derived from the inputs)")
	f.StringVar(&o.spec.DestNamespace, "dest-namespace", "", "destination workload namespace (--at ztunnel)")
	f.StringVar(&o.destLabels, "dest-labels", "", "destination workload labels k=v,... (--at ztunnel)")
	f.StringVar(&o.spec.DestProtocol, "dest-protocol", "", "destination protocol HTTP or TCP when the inputs leave it unset")
	o.bind(f)
	f.StringVar(&o.expect, "expect", "", "exit 3 unless the verdict is ALLOW or DENY as given")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text or json")
}

func (o *checkOptions) run(cmd *cobra.Command) error {
	opts, err := o.options()
	if err != nil {
		return err
	}
	if err := o.complete(); err != nil {
		return err
	}
	prog, findings, err := o.compile(cmd.InOrStdin(), opts)
	if err != nil {
		return err
	}
	req, err := o.spec.Build(o.trustDomain)
	if err != nil {
		return badInput("bad request: %w", err)
	}
	req.Explain = true
	d, err := prog.Eval(req)
	if err != nil {
		return badInput("cannot evaluate: %w", err)
	}
	if err := o.print(cmd, d, findings); err != nil {
		return err
	}
	if o.expect != "" && !strings.EqualFold(o.expect, string(d.Verdict)) {
		return &exitError{code: exitMismatch, err: fmt.Errorf("expected %s, got %s: %s", strings.ToUpper(o.expect), d.Verdict, d.Reason)}
	}
	return nil
}

// complete checks and converts the flags that are not plain strings.
func (o *checkOptions) complete() error {
	switch strings.ToUpper(o.expect) {
	case "", string(simulator.Allow), string(simulator.Deny):
	default:
		return badInput("--expect: %q is not ALLOW or DENY", o.expect)
	}
	switch o.output {
	case "text", "json":
	default:
		return badInput("-o: %q is not text or json", o.output)
	}
	if o.claims != "" {
		if err := json.Unmarshal([]byte(o.claims), &o.spec.Claims); err != nil {
			return badInput("--claims: not a JSON object: %w", err)
		}
	}
	labels, err := parseLabels(o.destLabels)
	if err != nil {
		return badInput("--dest-labels: %w", err)
	}
	o.spec.DestLabels = labels
	return nil
}

// compile loads and compiles the manifests; error findings are bad input.
func (o *checkOptions) compile(stdin io.Reader, opts simulator.Options) (*simulator.Program, simulator.Issues, error) {
	m, err := o.input.load(stdin)
	if err != nil {
		return nil, nil, err
	}
	issues := m.issues
	prog, found := simulator.Compile(m.snap, opts)
	issues = append(issues, found...)
	if issues.HasErrors() {
		return nil, issues, badInput("invalid input:\n%s", renderIssues(issues.Filter(simulator.SeverityError)))
	}
	return prog, issues, nil
}

func parseLabels(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string]string{}
	for kv := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not k=v", kv)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}
