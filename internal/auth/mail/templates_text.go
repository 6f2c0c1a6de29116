package mail

import "errors"

// The layouts wrap every kind's "body" with a greeting and a sign-off.
const textLayout = `Hello,

{{block "body" .}}{{end}}
— {{.AppName}}
`

const htmlLayout = `<!doctype html>
<html><body style="font-family: sans-serif; line-height: 1.5; color: #222; max-width: 36em">
<p>Hello,</p>
{{block "body" .}}{{end}}
<p>— {{.AppName}}</p>
</body></html>
`

// button is the HTML for Data.Link as a link that looks like a button.
const button = `<p><a href="{{.Link}}" style="display: inline-block; padding: .6em 1.2em; background: #2557d6; color: #fff; text-decoration: none; border-radius: 4px">`

type source struct {
	subject, text, html string
	check               func(Data) error
}

// sources are the texts: short, plain, one action each. Every mail says what
// to do if the reader did not ask for it.
var sources = map[Kind]source{
	VerifyEmail: {
		subject: `Confirm your email address for {{.AppName}}`,
		text: `{{define "body"}}Please confirm your email address for {{.AppName}} by opening this link:

{{.Link}}

{{with .Expires}}The link expires in {{duration .}}.

{{end}}If you did not sign up for {{.AppName}}, ignore this mail.
{{end}}`,
		html: `{{define "body"}}<p>Please confirm your email address for {{.AppName}}.</p>
` + button + `Confirm email address</a></p>
<p>Or open this link: <a href="{{.Link}}">{{.Link}}</a></p>
{{with .Expires}}<p>The link expires in {{duration .}}.</p>{{end}}
<p>If you did not sign up for {{.AppName}}, ignore this mail.</p>{{end}}`,
		check: func(d Data) error { return need("Link", d.Link) },
	},
	ResetPassword: {
		subject: `Reset your {{.AppName}} password`,
		text: `{{define "body"}}To choose a new password for your {{.AppName}} account, open this link:

{{.Link}}

{{with .Expires}}The link expires in {{duration .}}.

{{end}}If you did not ask for this, ignore this mail: your password stays as it is.
{{end}}`,
		html: `{{define "body"}}<p>To choose a new password for your {{.AppName}} account, use the button below.</p>
` + button + `Choose a new password</a></p>
<p>Or open this link: <a href="{{.Link}}">{{.Link}}</a></p>
{{with .Expires}}<p>The link expires in {{duration .}}.</p>{{end}}
<p>If you did not ask for this, ignore this mail: your password stays as it is.</p>{{end}}`,
		check: func(d Data) error { return need("Link", d.Link) },
	},
	MagicLink: {
		subject: `Your {{.AppName}} sign-in {{if .Code}}code{{else}}link{{end}}`,
		text: `{{define "body"}}{{if .Code}}Your code to sign in to {{.AppName}}:

    {{.Code}}
{{end}}{{if .Link}}{{if .Code}}
Or open{{else}}Open{{end}} this link to sign in:

{{.Link}}
{{end}}{{with .Expires}}
It expires in {{duration .}}.
{{end}}
If you did not try to sign in, ignore this mail.
{{end}}`,
		html: `{{define "body"}}{{if .Code}}<p>Your code to sign in to {{.AppName}}:</p>
<p style="font-size: 1.6em; font-weight: bold; letter-spacing: .15em">{{.Code}}</p>
{{end}}{{if .Link}}` + button + `Sign in to {{.AppName}}</a></p>
<p>Or open this link: <a href="{{.Link}}">{{.Link}}</a></p>
{{end}}{{with .Expires}}<p>It expires in {{duration .}}.</p>{{end}}
<p>If you did not try to sign in, ignore this mail.</p>{{end}}`,
		check: func(d Data) error {
			if d.Link == "" && d.Code == "" {
				return errors.New("Link or Code is required")
			}
			return nil
		},
	},
	EmailChanged: {
		subject: `Your {{.AppName}} email address was changed`,
		text: `{{define "body"}}The email address of your {{.AppName}} account was changed to {{.NewEmail}}.

If you did not do this, {{if .Link}}secure your account right away:

{{.Link}}
{{else}}reset your password right away.
{{end}}{{end}}`,
		html: `{{define "body"}}<p>The email address of your {{.AppName}} account was changed to <strong>{{.NewEmail}}</strong>.</p>
{{if .Link}}<p>If you did not do this, secure your account right away:</p>
` + button + `Secure my account</a></p>
<p>Or open this link: <a href="{{.Link}}">{{.Link}}</a></p>{{else}}<p>If you did not do this, reset your password right away.</p>{{end}}{{end}}`,
		check: func(d Data) error { return need("NewEmail", d.NewEmail) },
	},
}
