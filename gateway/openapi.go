package gateway

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// The OpenAPI document is derived from the route table alone, so it lists
// exactly the routes the gateway serves. What the table does not know it
// leaves open instead of guessing: a success body is "an object" (the JSON
// the function returns), and no body member is required (SQL decides which
// are, and answers 422 with per-field details).

// object is a JSON object of the document.
type object = map[string]any

// OpenAPIDocument is the OpenAPI 3.1 document of routes, as JSON, with paths
// relative to the server URL APIPrefix. Its version names what the build
// serves: the schema version it expects and, as build metadata, the start
// of the code package's digest ("12+cb38cb59b614"), since an api function
// changes in sql/code without a migration.
func OpenAPIDocument(routes []Route, schemaVersion int32, codeDigest string) []byte {
	paths := object{}
	for _, rt := range routes {
		item, ok := paths[rt.Path].(object)
		if !ok {
			item = object{}
			paths[rt.Path] = item
		}
		item[strings.ToLower(rt.Method)] = operation(rt)
	}
	doc := object{
		"openapi": "3.1.0",
		"info": object{
			"title":   "homebase",
			"version": apiVersion(schemaVersion, codeDigest),
			"description": "Generated from the gateway's route table. A request may send X-Request-Id " +
				"(1-128 characters of A-Z a-z 0-9 . _ : -); every response carries it, the client's or a new one.",
		},
		"servers": []object{{"url": APIPrefix}},
		"paths":   paths,
		"components": object{
			"schemas": object{"Error": object{
				"type":                 "object",
				"required":             []string{"code", "message", "details", "hint"},
				"additionalProperties": false,
				"properties": object{
					"code":    object{"type": "string", "pattern": "^[A-Z_]+$"},
					"message": object{"type": "string"},
					"details": object{"description": "null, or more about the error: {field: reason} for VALIDATION, {retry_after: seconds} for RATE_LIMITED"},
					"hint":    object{"type": []string{"string", "null"}},
				},
			}},
			"securitySchemes": object{
				"bearer": object{"type": "http", "scheme": "bearer",
					"description": "The token a login returns. The session is bound to the User-Agent it was created with; another one deletes it (401 BROWSER)."},
				"cookie": object{"type": "apiKey", "in": "cookie", "name": hostSessionCookie,
					"description": "Set by the login: " + hostSessionCookie + " (Secure, Path=/, no Domain), or " + sessionCookie +
						" on a plain-HTTP development gateway (COOKIE_SECURE=false); the gateway reads only the one it sets. " +
						"A POST, PUT, PATCH or DELETE authenticated by the cookie alone must come from an allowed Origin (403 CSRF)."},
			},
		},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err) // maps, slices, strings, ints and bools only: Marshal cannot fail
	}
	return b
}

func operation(rt Route) object {
	op := object{
		"operationId": rt.Func[strings.LastIndexByte(rt.Func, '.')+1:],
		"summary":     rt.Summary,
		"responses":   responses(rt),
	}
	var params []object
	fields, formFields := object{}, object{}
	for _, a := range rt.Args {
		switch a.From {
		case FromPath:
			s := kindSchema(a.Kind)
			if a.Kind == Int {
				s["minimum"] = 1 // readArgs refuses the others (400)
			}
			params = append(params, object{"name": a.Name, "in": "path", "required": true, "schema": maxSchema(a, s)})
		case FromQuery:
			params = append(params, object{"name": a.Name, "in": "query", "schema": maxSchema(a, kindSchema(a.Kind))})
		case FromBody:
			s := maxSchema(a, kindSchema(a.Kind))
			s["type"] = []string{s["type"].(string), "null"} // null is the same as absent
			fields[a.Name] = s
		case FromForm:
			formFields[a.Name] = maxSchema(a, kindSchema(a.Kind))
		}
		// The token, User-Agent, client IP and request id are the request's
		// context, not parameters: the security schemes and info say how.
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	if len(fields) > 0 {
		op["requestBody"] = object{
			"description": "One JSON object; an absent member and null are the same. No body at all counts as {}.",
			"content": object{"application/json": object{"schema": object{
				"type": "object", "properties": fields,
				"additionalProperties": false, // readBody refuses unknown members (400)
			}}},
		}
	}
	if len(formFields) > 0 {
		schema := object{"type": "object", "properties": formFields,
			"additionalProperties": false} // readForm refuses unknown and repeated fields (400)
		op["requestBody"] = object{
			"description": "A form (not JSON); a field given twice is refused. No body at all: every field is absent.",
			"content":     object{formURLEncoded: object{"schema": schema}, formMultipart: object{"schema": schema}},
		}
	}
	if rt.Auth {
		op["security"] = []object{{"bearer": []string{}}, {"cookie": []string{}}}
	}
	return op
}

// maxSchema adds the argument's Max to its schema: maxLength counts
// characters, as Max does; a limit in bytes (a password) is also at most
// that many characters, and says so; a length counted without surrounding
// whitespace (Trim) is no maxLength, only said.
func maxSchema(a Arg, s object) object {
	switch {
	case a.Max == 0:
	case a.Trim:
		s["description"] = "at most " + strconv.Itoa(a.Max) + " characters without surrounding whitespace"
	case a.MaxBytes:
		s["maxLength"] = a.Max
		s["description"] = "at most " + strconv.Itoa(a.Max) + " bytes of UTF-8"
	default:
		s["maxLength"] = a.Max
	}
	if a.Max > 0 && a.OverMax != nil {
		e := a.OverMax()
		over := "longer: " + strconv.Itoa(e.status) + " " + e.Code
		if d, ok := s["description"].(string); ok {
			over = d + "; " + over
		}
		s["description"] = over
	}
	return s
}

func kindSchema(k Kind) object {
	switch k {
	case Int:
		return object{"type": "integer", "format": "int64"}
	case UUID:
		return object{"type": "string", "format": "uuid"}
	case Number:
		return object{"type": "number"}
	}
	return object{"type": "string"}
}

// responses are the route's success and the errors it can answer with, by
// what the route takes; the error codes are those of docs/api.md.
func responses(rt Route) object {
	takes := map[Source]bool{}
	for _, a := range rt.Args {
		takes[a.From] = true
	}
	codes := map[int][]string{400: {"BAD_REQUEST"}, 414: {"URI_TOO_LONG"}, 431: {"HEADERS_TOO_LARGE"},
		500: {"INTERNAL"}, 503: {"UNAVAILABLE"}, 504: {"TIMEOUT"}}
	if rt.Auth {
		codes[401] = []string{"UNAUTHENTICATED", "INVALID", "EXPIRED", "BROWSER"}
		codes[403] = []string{"FORBIDDEN"}
		if !safeMethod(rt.Method) {
			codes[403] = append(codes[403], "CSRF")
		}
	}
	if checksPassword(rt) {
		codes[401] = append(codes[401], "INVALID_CREDENTIALS")
	}
	if rt.Limited {
		codes[429] = []string{"RATE_LIMITED"}
	}
	if takes[FromPath] {
		codes[404] = []string{"NOT_FOUND"}
	}
	if takes[FromBody] || takes[FromForm] {
		codes[413] = []string{"PAYLOAD_TOO_LARGE"}
		codes[415] = []string{"UNSUPPORTED_MEDIA_TYPE"}
	}
	if takes[FromBody] || takes[FromQuery] || takes[FromForm] {
		codes[422] = []string{"VALIDATION"}
	}
	if len(rt.Conflicts) > 0 {
		codes[409] = rt.Conflicts
	}
	for _, a := range rt.Args {
		if a.From != FromPath && a.Name == "token" { // a mailed token (auth.invalid_token)
			codes[400] = append(codes[400], "INVALID_TOKEN")
		}
	}

	out := object{strconv.Itoa(rt.Status): success(rt)}
	for status, cs := range codes {
		r := object{
			"description": http.StatusText(status) + ": " + strings.Join(cs, ", "),
			"content":     object{"application/json": object{"schema": object{"$ref": "#/components/schemas/Error"}}},
		}
		if status == http.StatusTooManyRequests {
			r["headers"] = object{"Retry-After": object{
				"description": "seconds until the throttling window ends", "schema": object{"type": "integer"}}}
		}
		out[strconv.Itoa(status)] = r
	}
	return out
}

// checksPassword: the login, and a logged-in user's routes that take the
// password, check it against the account and are throttled. Signup takes a
// password too, but sets it.
func checksPassword(rt Route) bool {
	if rt.Cookie != SetCookie && !rt.Auth {
		return false
	}
	for _, a := range rt.Args {
		if a.From == FromBody && (a.Name == "password" || a.Name == "current_password") {
			return true
		}
	}
	return false
}

func success(rt Route) object {
	r := object{"description": http.StatusText(rt.Status)}
	if rt.Status != http.StatusNoContent {
		r["content"] = object{"application/json": object{"schema": object{"type": "object"}}}
	}
	cookie := map[CookieEffect]string{
		SetCookie: hostSessionCookie + "=<token>; Path=/; Max-Age=<seconds until expires_at>; HttpOnly; Secure; SameSite=Lax " +
			"(no Domain; with COOKIE_SECURE=false, plain-HTTP development: " + sessionCookie + "=<token>, without Secure)",
		ClearCookie: hostSessionCookie + "=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax: the session cookie is deleted " +
			"(" + sessionCookie + "=, without Secure, with COOKIE_SECURE=false)",
	}[rt.Cookie]
	if cookie != "" {
		r["headers"] = object{"Set-Cookie": object{"description": cookie, "schema": object{"type": "string"}}}
	}
	return r
}

// openAPI serves the document of s.Routes, built once when the handler is.
func (s *Server) openAPI() http.HandlerFunc {
	doc := OpenAPIDocument(s.Routes, s.ExpectedVersion, s.ExpectedCode)
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	}
}

// apiVersion is the document's info.version: the schema version, then "+"
// and the code package's digest as git shortens a commit id (none without one).
func apiVersion(schemaVersion int32, codeDigest string) string {
	v := strconv.Itoa(int(schemaVersion))
	if codeDigest != "" {
		v += "+" + short(codeDigest)
	}
	return v
}
