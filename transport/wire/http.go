package wire

import (
	"encoding/json"
	"time"
)

// HTTP routes of the KalamDB API.
const (
	PathSQL         = "/v1/api/sql"
	PathLogin       = "/v1/api/auth/login"
	PathRefresh     = "/v1/api/auth/refresh"
	PathLogout      = "/v1/api/auth/logout"
	PathMe          = "/v1/api/auth/me"
	PathSetup       = "/v1/api/auth/setup"
	PathAuthStatus  = "/v1/api/auth/status"
	PathHealth      = "/health"
	PathHealthcheck = "/v1/api/healthcheck"
	PathWS          = "/v1/ws"
)

// SQL error codes (error.code of the SQL envelope).
const (
	CodeInvalidInput          = "INVALID_INPUT"
	CodeEmptySQL              = "EMPTY_SQL"
	CodeBatchParseError       = "BATCH_PARSE_ERROR"
	CodeInvalidParameter      = "INVALID_PARAMETER"
	CodeParamsWithBatch       = "PARAMS_WITH_BATCH"
	CodeSQLExecutionError     = "SQL_EXECUTION_ERROR"
	CodeTableNotFound         = "TABLE_NOT_FOUND"
	CodeMissingAuthorization  = "MISSING_AUTHORIZATION"
	CodeInvalidCredentials    = "INVALID_CREDENTIALS"
	CodeTokenExpired          = "TOKEN_EXPIRED"
	CodePermissionDenied      = "PERMISSION_DENIED"
	CodeRemoteAccessDenied    = "REMOTE_ACCESS_DENIED"
	CodeInsufficientPerms     = "INSUFFICIENT_PERMISSIONS"
	CodeInternalError         = "INTERNAL_ERROR"
	CodeAuthenticationError   = "AUTHENTICATION_ERROR"
	CodeSQLRateLimitExceeded  = "RATE_LIMIT_EXCEEDED"
	CodeSetupRequired         = "SETUP_REQUIRED"
	CodeAccountLocked         = "ACCOUNT_LOCKED"
	StatusSuccess             = "success"
	StatusError               = "error"
	AuthErrorUnauthorized     = "unauthorized"
	AuthErrorRateLimited      = "rate_limited"
	AuthErrorAlreadyConfigure = "already_configured"
)

// SQLRequest is the JSON body of POST /v1/api/sql.
type SQLRequest struct {
	SQL         string `json:"sql"`
	Params      []any  `json:"params,omitempty"`
	NamespaceID string `json:"namespace_id,omitempty"`
}

// SQLResponse is the body of every /v1/api/sql answer, success or error.
// Error is nil both when the key is absent and when it is null.
type SQLResponse struct {
	Status  string        `json:"status"`
	Results []QueryResult `json:"results"`
	Took    float64       `json:"took"`
	Error   *ErrorBody    `json:"error,omitempty"`
}

// QueryResult is one statement's result. Rows are positional, in schema
// order; cells stay raw JSON until decoded.
type QueryResult struct {
	Schema   []SchemaField       `json:"schema,omitempty"`
	Rows     [][]json.RawMessage `json:"rows,omitempty"`
	RowCount int64               `json:"row_count"`
	Message  string              `json:"message,omitempty"`
	AsUser   string              `json:"as_user"`
}

// ErrorBody is the "error" object of the SQL envelope.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details string `json:"details,omitempty"`
}

// AuthErrorBody is the envelope of login/refresh/me/setup/status failures.
type AuthErrorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// LoginRequest is the body of POST /v1/api/auth/login.
type LoginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// UserInfo describes the authenticated user.
type UserInfo struct {
	ID        string  `json:"id"`
	Role      string  `json:"role"`
	Email     *string `json:"email"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`
}

// LoginResponse is the body of a successful login or refresh.
type LoginResponse struct {
	User             UserInfo  `json:"user"`
	AdminUIAccess    bool      `json:"admin_ui_access"`
	ExpiresAt        time.Time `json:"expires_at"`
	AccessToken      string    `json:"access_token"`
	RefreshToken     string    `json:"refresh_token"`
	RefreshExpiresAt time.Time `json:"refresh_expires_at"`
}

// MeResponse is the body of GET /v1/api/auth/me.
type MeResponse struct {
	User          UserInfo `json:"user"`
	AdminUIAccess bool     `json:"admin_ui_access"`
}

// SetupRequest is the body of POST /v1/api/auth/setup.
type SetupRequest struct {
	User         string  `json:"user"`
	Password     string  `json:"password"`
	RootPassword string  `json:"root_password"`
	Email        *string `json:"email,omitempty"`
}

// AuthStatusResponse is the body of GET /v1/api/auth/status.
type AuthStatusResponse struct {
	NeedsSetup bool   `json:"needs_setup"`
	Message    string `json:"message"`
}

// HealthResponse is the body of GET /health.
type HealthResponse struct {
	Status     string `json:"status"`
	Version    string `json:"version"`
	APIVersion string `json:"api_version"`
	BuildDate  string `json:"build_date"`
}

// DecodeSQLResponse parses an SQL answer body.
func DecodeSQLResponse(body []byte) (*SQLResponse, error) {
	r := new(SQLResponse)
	if err := json.Unmarshal(body, r); err != nil {
		return nil, jsonError("sql response", err)
	}
	if r.Status != StatusSuccess && r.Status != StatusError {
		return nil, &DecodeError{Reason: "sql response: unknown status " + quoteShort([]byte(r.Status))}
	}
	if r.Status == StatusError && r.Error == nil {
		return nil, &DecodeError{Reason: "sql response: status error without an error object"}
	}
	return r, nil
}
