package mailtest_test

import (
	"strings"
	"testing"

	"github.com/bamhq/bam/internal/auth/mail/mailtest"
)

func TestParse(t *testing.T) {
	t.Parallel()
	raw := strings.ReplaceAll(`From: a@example.com
To: b@example.com
Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=outer

--outer
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: base64

aGVsbG8gaHR0cHM6Ly9hLnRlc3Qv
--inner
Content-Type: text/html; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

<p>hello <a href=3D"https://a.test/">link</a></p>
--inner--
--outer--
`, "\n", "\r\n")
	got, err := mailtest.Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != "Grüße" || got.Text != "hello https://a.test/" || !strings.Contains(got.HTML, `href="https://a.test/"`) {
		t.Errorf("Parse = subject %q, text %q, html %q", got.Subject, got.Text, got.HTML)
	}
	if _, err := mailtest.Parse([]byte("Subject: x\r\nContent-Type: text/html\r\n\r\n<p>only html</p>")); err == nil {
		t.Error("a message without a text part parsed")
	}
}
