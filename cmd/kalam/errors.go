package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kalamgo/kalam"
	"github.com/kalamgo/kalam/auth"
	"github.com/kalamgo/kalam/transport/httpapi"
)

// Exit codes. They are part of the command's interface: scripts branch on
// them, and "kalam help" lists them.
const (
	exitOK          = 0
	exitError       = 1 // anything not below (a file that cannot be read, a drain that timed out)
	exitUsage       = 2 // bad flags, arguments or settings: nothing was sent
	exitConnection  = 3 // the server could not be reached in time
	exitAuth        = 4 // no credentials, or the server refused them
	exitSQL         = 5 // the server refused a statement or a live query
	exitInterrupted = 130
)

const exitCodesHelp = `

Exit codes:
  0  success
  1  other failure (a file that cannot be read, a drain that timed out)
  2  usage: bad flags, arguments or settings; nothing was sent
  3  connection: the server could not be reached (or not within --connect-timeout)
  4  authentication: no credentials, or the server refused them
  5  SQL: the server refused a statement or a live query
  130 interrupted (Ctrl-C)`

// usageError is a mistake on the command line: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErr(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// classify maps an error to its exit code and a one-line message that says
// what to do. The message never contains a secret: the library's errors are
// scrubbed already and nothing here adds one.
func (a *app) classify(err error) (int, string) {
	var ue *usageError
	var qe *kalam.QueryError
	var se *kalam.ServerError
	var ce *kalam.ConfigError
	var ke *classifiedError
	switch {
	case errors.As(err, &ke):
		return ke.code, ke.msg
	case errors.As(err, &ue):
		return exitUsage, ue.msg
	case errors.Is(err, context.Canceled):
		return exitInterrupted, "interrupted"
	case errors.As(err, &ce):
		return exitUsage, configMessage(ce)
	case errors.Is(err, kalam.ErrNoNamespace):
		return exitUsage, "no namespace: qualify the table (ns.table) or pass --namespace"
	case isConnectionError(err):
		return exitConnection, fmt.Sprintf("cannot reach the server at %s (%s): check --url, or start one with \"kalam serve\"", a.conn.url, connectionCause(err))
	case errors.Is(err, errNoCredentials):
		return exitAuth, err.Error()
	case errors.Is(err, errSessionExpired):
		return exitAuth, err.Error()
	case errors.Is(err, auth.ErrMalformedToken):
		return exitAuth, "the token is not a JWT: check --token or $KALAM_TOKEN"
	case errors.Is(err, auth.ErrTokenExpired):
		return exitAuth, "the token has expired: get a new one, or run \"kalam login\""
	case errors.Is(err, auth.ErrRejected), errors.Is(err, kalam.ErrCredentialsRejected),
		errors.As(err, &qe) && (qe.Status == 401 || qe.Code == "TOKEN_EXPIRED" || qe.Code == "UNAUTHORIZED"):
		return exitAuth, fmt.Sprintf("the server refused the credentials of user %q: check the password or token, or run \"kalam login\"", a.conn.user)
	case errors.As(err, &qe):
		return exitSQL, sqlMessage(qe.Code, qe.Message)
	case errors.As(err, &se):
		return exitSQL, sqlMessage(se.Code, se.Message)
	case errors.Is(err, kalam.ErrNoCredentials):
		return exitAuth, "no credentials: set $KALAM_PASSWORD or $KALAM_TOKEN, or run \"kalam login\""
	}
	return exitError, oneLine(strings.TrimPrefix(err.Error(), "kalam: "))
}

// report prints err as one line prefixed by the command's path and returns
// its exit code.
func (a *app) report(cmd *cobra.Command, err error) int {
	code, msg := a.classify(err)
	var se *stmtError
	if errors.As(err, &se) {
		msg = fmt.Sprintf("statement %d (line %d): %s", se.n, se.line, msg)
	}
	name := "kalam"
	if cmd != nil {
		name = cmd.CommandPath()
	}
	if code == exitUsage && strings.HasPrefix(msg, "unknown command") {
		name = "kalam"
	}
	fmt.Fprintf(a.io.err, "%s: %s\n", name, msg)
	if code == exitUsage && cmd != nil && !strings.HasPrefix(msg, "unknown command") {
		fmt.Fprintf(a.io.err, "Run \"%s --help\" for usage.\n", cmd.CommandPath())
	}
	return code
}

// statementPrefix is the server's own numbering, which means nothing when
// statements are sent one at a time.
var statementPrefix = regexp.MustCompile(`^Statement \d+ failed: `)

func sqlMessage(code, msg string) string {
	msg = statementPrefix.ReplaceAllString(oneLine(msg), "")
	if code == "" {
		return "the server refused the statement: " + msg
	}
	return fmt.Sprintf("the server refused the statement (%s): %s", code, msg)
}

func configMessage(ce *kalam.ConfigError) string {
	switch ce.Field {
	case "URL":
		switch {
		case strings.Contains(ce.Reason, "scheme"), strings.Contains(ce.Reason, "not a URL"):
			return "URL must start with http:// or https://"
		case strings.Contains(ce.Reason, "credentials"):
			return "URL must not contain a user or password: use --user and a password or token"
		}
		return "URL " + ce.Reason
	case "Namespace":
		return "namespace must be a plain name (letters, digits, underscores)"
	}
	return "invalid setting: " + strings.ToLower(ce.Field) + " " + ce.Reason
}

// isConnectionError reports whether err means the server could not be
// reached (as opposed to reached and refusing).
func isConnectionError(err error) bool {
	var ne *net.OpError
	var dnsErr *net.DNSError
	var qe *kalam.QueryError
	var te *httpapi.TransportError
	var gu *errGaveUp
	var policy *kalam.GiveUpError
	var closed *kalam.CloseError
	switch {
	case errors.As(err, &closed):
		return true
	case errors.As(err, &gu):
		return gu.err == nil || isConnectionError(gu.err)
	case errors.As(err, &policy):
		return policy.Last == nil || isConnectionError(policy.Last)
	case errors.As(err, &te):
		return true
	case errors.Is(err, errConnectTimeout), errors.Is(err, kalam.ErrConnectTimeout), errors.Is(err, kalam.ErrDeadLink):
		return true
	case errors.As(err, &ne), errors.As(err, &dnsErr), errors.Is(err, syscall.ECONNREFUSED):
		return true
	case errors.As(err, &qe) && qe.Status == 0:
		return true
	}
	var ue *url.Error
	return errors.As(err, &ue) && !errors.Is(err, context.Canceled)
}

func connectionCause(err error) string {
	var dnsErr *net.DNSError
	var gu *errGaveUp
	switch {
	case errors.As(err, &gu) && gu.err != nil:
		return connectionCause(gu.err) + "; gave up at once (--fail-fast)"
	case errors.As(err, &gu):
		return gu.Error()
	case errors.Is(err, syscall.ECONNREFUSED) && errors.Is(err, errConnectTimeout):
		return "connection refused, and still so at --connect-timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, errConnectTimeout), errors.Is(err, kalam.ErrConnectTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.As(err, &dnsErr):
		return "unknown host"
	case errors.Is(err, kalam.ErrDeadLink):
		return "the link went silent"
	}
	return "network error"
}

// oneLine keeps the first line of s.
func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}
