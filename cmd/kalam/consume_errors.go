package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/kalamgo/kalam"
)

// classifiedError is an error whose command already chose its exit code
// and one-line message; classify (errors.go) takes both as they are.
type classifiedError struct {
	code int
	msg  string
	err  error
}

func (e *classifiedError) Error() string { return e.msg }
func (e *classifiedError) Unwrap() error { return e.err }

// consumeFailure words the refusals of the topic routes for a person: the
// role rule is a permission problem (exit 4), a missing topic or another
// refusal is the server refusing the request (exit 5). Anything else
// (connection, credentials) is left to classify.
func consumeFailure(err error, topic, user string) error {
	var ce *kalam.ConsumerError
	var qe *kalam.QueryError
	if err == nil || !errors.As(err, &ce) || !errors.As(err, &qe) || qe.Status == 0 || qe.Status == http.StatusUnauthorized {
		return err
	}
	switch qe.Status {
	case http.StatusForbidden:
		return &classifiedError{code: exitAuth, err: err,
			msg: fmt.Sprintf("user %q may not read topics: that needs the service, dba or system role", user)}
	case http.StatusNotFound:
		return &classifiedError{code: exitSQL, err: err,
			msg: fmt.Sprintf("topic %q does not exist: check the name (ns.topic), or create it with CREATE TOPIC", topic)}
	}
	what := "the poll"
	if ce.Op == "commit" {
		what = "the commit"
	}
	msg := fmt.Sprintf("the server refused %s (%d", what, qe.Status)
	if qe.Code != "" {
		msg += " " + qe.Code
	}
	msg += ")"
	if qe.Message != "" {
		msg += ": " + oneLine(qe.Message)
	}
	if ce.Attempts > 1 {
		msg += fmt.Sprintf(" after %d attempts", ce.Attempts)
	}
	return &classifiedError{code: exitSQL, err: err, msg: msg}
}

// payloadColumns lists the keys of a payload object in the order they
// come, so that a message prints its row in column order.
func payloadColumns(payload []byte) ([]kalam.Column, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("payload is not a JSON object")
	}
	var cols []kalam.Column
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, ok := t.(string)
		if !ok {
			return nil, errors.New("payload key is not a string")
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
		cols = append(cols, kalam.Column{Name: name})
	}
	return cols, nil
}
