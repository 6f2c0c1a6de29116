package mailtest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
)

var errNoText = errors.New("no text/plain part")

// Parse reads an RFC 5322 message into a Received (without the envelope
// fields): decoded subject, and the decoded text/plain and text/html parts,
// found through any nesting of multipart bodies.
func Parse(raw []byte) (Received, error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Received{}, err
	}
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return Received{}, fmt.Errorf("subject: %w", err)
	}
	r := Received{Subject: subject, Header: msg.Header, Raw: raw}
	err = walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, &r)
	if err != nil {
		return Received{}, err
	}
	if r.Text == "" {
		return Received{}, errNoText
	}
	return r, nil
}

// walk stores the first text/plain and text/html parts of body in r.
func walk(contentType, encoding string, body io.Reader, r *Received) error {
	if contentType == "" {
		contentType = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content type %q: %w", contentType, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart() // NextPart would decode QP itself, but not base64
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, r); err != nil {
				return err
			}
		}
	}
	var text []byte
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		text, err = io.ReadAll(quotedprintable.NewReader(body))
	case "base64":
		text, err = io.ReadAll(base64.NewDecoder(base64.StdEncoding, body))
	default:
		text, err = io.ReadAll(body)
	}
	if err != nil {
		return fmt.Errorf("%s part: %w", mediaType, err)
	}
	s := strings.ReplaceAll(string(text), "\r\n", "\n")
	switch {
	case mediaType == "text/plain" && r.Text == "":
		r.Text = s
	case mediaType == "text/html" && r.HTML == "":
		r.HTML = s
	}
	return nil
}
